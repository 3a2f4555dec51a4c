"""The HTTP protocol jbqa serves with: beyond the connection limit, a JSON 503 like the app's own."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import uvicorn

from jbqa.index.store import LoadedIndex
from jbqa.server.main import create_app
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
