"""The HTTP protocol jbqa serves with: beyond the connection limit, a JSON 503 like the app's own;
requests with two lengths, Host names it does not answer to, one URL per file."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import uvicorn
from fastapi.testclient import TestClient

from jbqa.index.store import LoadedIndex
from jbqa.server.config import Settings
from jbqa.server.main import LIMIT_CONNECTIONS, create_app
from jbqa.server.protocol import DeadlineH11Protocol

LIMIT = 3


def test_beyond_the_connection_limit_the_503_is_json_with_retry_after_and_the_security_headers(
    offline_index: LoadedIndex, serve_in_thread: Callable[[uvicorn.Config], AbstractContextManager[int]],
) -> None:
    config = uvicorn.Config(create_app(offline_index), http=DeadlineH11Protocol, limit_concurrency=LIMIT,
                            log_level="error")
    with serve_in_thread(config) as port:
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(LIMIT)]
        try:
            time.sleep(0.2)  # the server has accepted them
            response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
        finally:
            for sock in held:
                sock.close()
        assert response.status_code == 503
        assert response.json() == {"detail": "the server is busy; please try again in a moment"}
        assert response.headers["Retry-After"] == "2"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Connection"] == "close"
        time.sleep(0.2)  # the held connections are gone: the next request is served
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).status_code == 200


def _exchange(port: int, request: bytes, seconds: float = 5) -> bytes:
    """Send raw bytes; everything the server sends until it closes (or `seconds` pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(request)
        data = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        return data


def _get(port: int, path: str, host: str = "127.0.0.1") -> bytes:
    return _exchange(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())


def test_a_request_with_both_lengths_is_refused_and_the_request_hidden_in_it_never_runs(
    offline_index: LoadedIndex, serve_in_thread: Callable[[uvicorn.Config], AbstractContextManager[int]],
) -> None:
    hidden = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    body = b"0\r\n\r\n" + hidden
    request = (
        b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    )
    config = uvicorn.Config(create_app(offline_index), http=DeadlineH11Protocol, log_level="error")
    with serve_in_thread(config) as port:
        response = _exchange(port, request)
    assert response.startswith(b"HTTP/1.1 400"), response[:200]
    assert b"both Content-Length and Transfer-Encoding" in response
    assert response.count(b"HTTP/1.1 ") == 1  # closed: the hidden request got no answer
    assert b'"status":"ok"' not in response


def test_host_names_other_than_loopback_and_the_configured_ones_get_400(
    offline_index: LoadedIndex, serve_in_thread: Callable[[uvicorn.Config], AbstractContextManager[int]],
) -> None:
    app = create_app(offline_index, Settings(allowed_hosts="qa.example.org, Intranet"))
    config = uvicorn.Config(app, http=DeadlineH11Protocol, log_level="error")
    with serve_in_thread(config) as port:
        for host in ("127.0.0.1", f"127.0.0.1:{port}", "localhost:8000", "[::1]:8000", "app.localhost",
                     "qa.example.org", "QA.example.org:443", "intranet"):
            assert _get(port, "/api/health", host).startswith(b"HTTP/1.1 200"), host
        for host in ("attacker.example", "attacker.example:8000", "127.0.0.1.attacker.example", "qa.example.org.evil"):
            response = _get(port, "/api/health", host)
            assert response.startswith(b"HTTP/1.1 400"), host
            assert b"JBQA_ALLOWED_HOSTS" in response and host.encode() not in response
            assert b"content-security-policy" in response.lower()
    with serve_in_thread(uvicorn.Config(create_app(offline_index, Settings(allowed_hosts="*")),
                                        http=DeadlineH11Protocol, log_level="error")) as port:
        assert _get(port, "/api/health", "anything.example").startswith(b"HTTP/1.1 200")


def test_the_docs_policy_is_on_the_docs_pages_only_and_files_have_one_url(
    offline_index: LoadedIndex, serve_in_thread: Callable[[uvicorn.Config], AbstractContextManager[int]],
) -> None:
    config = uvicorn.Config(create_app(offline_index), http=DeadlineH11Protocol, log_level="error")
    with serve_in_thread(config) as port:
        for path in ("/docs", "/redoc"):
            assert b"'unsafe-inline'" in _get(port, path), path
        for path in ("/docsX", "/docs/", "/redocX", "/docs-assets/swagger-ui-bundle.js", "/"):
            response = _get(port, path)
            policy = next(line for line in response.split(b"\r\n") if line.lower().startswith(b"content-security"))
            assert b"unsafe-inline" not in policy, path
        assert _get(port, "/static/app.js").startswith(b"HTTP/1.1 200")
        for path in ("/static/app.js/", "/docs-assets/swagger-ui-bundle.js/"):
            assert _get(port, path).startswith(b"HTTP/1.1 404"), path


def test_a_huge_line_number_is_refused_without_echoing_it(offline_index: LoadedIndex) -> None:
    name = sorted(offline_index.sources)[0]
    with TestClient(create_app(offline_index), base_url="http://127.0.0.1") as client:
        response = client.get(f"/api/sources/{name}", params={"start": "9" * 4300})
    assert response.status_code == 422
    assert len(response.content) < 500 and "9999" not in response.text


class QuickSendDeadline(DeadlineH11Protocol):
    send_seconds = 1.0


SLOW_READERS = 200
BUNDLE = "/docs-assets/swagger-ui-bundle.js"


def _slow_reader(port: int) -> socket.socket:
    """A connection that asks for a large file six times over and never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {BUNDLE} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() * 6)
    return sock


def _read_for(sock: socket.socket, seconds: float) -> tuple[int, bool]:
    """Bytes the connection still delivers within `seconds`, and whether it ended meanwhile."""
    sock.settimeout(0.2)
    got, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return got, True
        if not chunk:
            return got, True
        got += len(chunk)
    return got, False


def test_slow_readers_neither_lock_out_questions_nor_hold_their_connections(
    offline_index: LoadedIndex, serve_in_thread: Callable[[uvicorn.Config], AbstractContextManager[int]],
) -> None:
    config = uvicorn.Config(create_app(offline_index), http=QuickSendDeadline, limit_concurrency=LIMIT_CONNECTIONS,
                            log_level="error")
    with serve_in_thread(config) as port:
        readers = [_slow_reader(port) for _ in range(SLOW_READERS)]
        try:
            time.sleep(0.5)  # every reader's first response is stuck in its buffers
            seconds = []
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                assert client.get("/api/health").status_code == 200
                for _ in range(20):
                    started = time.monotonic()
                    response = client.post("/api/ask", json={"question": "江北区金融机构有多少家"})
                    seconds.append(time.monotonic() - started)
                    assert response.status_code == 200, response.text
            p99 = sorted(seconds)[int(0.99 * (len(seconds) - 1))]
            assert p99 < 1.0, seconds
            time.sleep(QuickSendDeadline.send_seconds + 0.5)
            # Past the send deadline the server has given up on them: what the buffers still hold
            # comes, then the end, well before the six files they asked for.
            files = 6 * len(httpx.get(f"http://127.0.0.1:{port}{BUNDLE}", timeout=10).content)
            for sock in readers[:5]:
                got, ended = _read_for(sock, 3.0)
                assert ended and got < files, (got, files)
        finally:
            for sock in readers:
                sock.close()
