"""`jbqa serve` as a real process: it loads an index, serves on a loopback port, answers over HTTP."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from jbqa.config import BUNDLED_CORPUS
from jbqa.index.store import build_index

pytestmark = pytest.mark.slow
STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_health(url: str, proc: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jbqa serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            response = httpx.get(f"{url}/api/health", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"jbqa serve did not answer /api/health within {STARTUP_SECONDS} s:\n{log.read_text(errors='replace')}")


def _raw_status(port: int, path: str) -> int:
    """GET a path byte for byte (http.client, unlike httpx, does not normalise `../`)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_jbqa_serve_answers_over_http(jbqa: str, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index(BUNDLED_CORPUS, index_dir, "offline")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [jbqa, "serve", "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        health = _wait_for_health(url, proc, log)
        assert health["status"] == "ok"
        assert str(health["embedder"]).startswith("offline")

        response = httpx.post(f"{url}/api/ask", json={"question": "江北区金融机构有多少家"}, timeout=30)
        assert response.status_code == 200
        first = response.json()["answers"][0]
        assert any(figure in first["quote"] for figure in ("480", "490"))
        assert first["source"].endswith(".txt")

        page = httpx.get(f"{url}/", timeout=10)
        assert page.status_code == 200 and "content-security-policy" in page.headers
        assert httpx.post(f"{url}/api/ask", json={"question": " "}, timeout=10).status_code == 422
        for path in (
            "/api/sources/../pyproject.toml",
            "/api/sources/..%2F..%2Fetc%2Fpasswd",
            "/api/sources/%2Fetc%2Fpasswd",
        ):
            assert _raw_status(port, path) == 404, path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    output = log.read_text(errors="replace")
    assert "offline" in output  # the embedder in use is reported at start
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("variable", "value"),
    [("JBQA_MAX_BODY_BYTES", "abc"), ("JBQA_MAX_BODY_BYTES", "0"), ("JBQA_ASK_TIMEOUT", "-1"),
     ("JBQA_ASK_TIMEOUT", "nan")],
)
def test_a_bad_setting_is_one_line_naming_it_before_the_index_loads(
    jbqa: str, tmp_path: Path, variable: str, value: str
) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", variable: value}
    done = subprocess.run(
        [jbqa, "serve", "--index", str(tmp_path / "no-index"), "--port", str(_free_port())],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # no traceback, and nothing about the index: it was not opened
    assert lines[0].startswith(f"Error: {variable}='{value}' is not valid: it takes ")
