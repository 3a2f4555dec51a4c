"""Fixtures for the reliability tests: the jbqa command, and a real `jbqa serve` on a loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jbqa.index.store import LoadedIndex

STARTUP_SECONDS = 60
STOP_SECONDS = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a jbqa child process: never a model hub, never the user's default index."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


@dataclass
class LiveServer:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def wait_for_health(server: LiveServer, seconds: float = STARTUP_SECONDS) -> dict[str, object]:
    """Poll /api/health until it answers 200 (bounded); fail with the server log otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"jbqa serve exited with {server.proc.returncode}:\n{server.output()}")
        try:
            response = httpx.get(f"{server.url}/api/health", timeout=2)
            if response.status_code == 200:
                return dict(response.json())
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"jbqa serve did not answer /api/health within {seconds} s:\n{server.output()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def start_server(jbqa: str, index_dir: Path, log: Path, env: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [jbqa, "serve", "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env or child_env(),
        )
    server = LiveServer(f"http://127.0.0.1:{port}", port, proc, log)
    try:
        wait_for_health(server)
    except BaseException:
        stop(proc)
        raise
    return server


@pytest.fixture(scope="session")
def live_server(
    jbqa: str, offline_index: LoadedIndex, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """`jbqa serve` over the session's offline index of the bundled corpus, on a free loopback port."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    server = start_server(jbqa, offline_index.directory, log)
    try:
        yield server
    finally:
        stop(server.proc)
    assert "Traceback" not in server.output(), server.output()


@pytest.fixture
def serve(jbqa: str, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start `jbqa serve` on an index with extra environment variables; stopped when the test ends."""
    started: list[LiveServer] = []

    def start(index_dir: Path, **env: str) -> LiveServer:
        server = start_server(jbqa, index_dir, tmp_path / f"serve-{len(started)}.log", child_env(**env))
        started.append(server)
        return server

    yield start
    for server in started:
        stop(server.proc)
