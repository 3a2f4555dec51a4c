"""Requests beyond the limit wait briefly, then get a JSON 503 with Retry-After and the security headers."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi.testclient import TestClient

from jbqa.server.middleware import RequestLimit, SecurityHeaders


def _app(limit: int, wait: float, work: float) -> FastAPI:
    app = FastAPI()

    @app.get("/work")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(work)
        return {"ok": "yes"}

    app.add_middleware(RequestLimit, limit=limit, wait_seconds=wait)
    app.add_middleware(SecurityHeaders)
    return app


def test_a_request_over_the_limit_waits_for_a_place() -> None:
    with TestClient(_app(limit=1, wait=5.0, work=0.3)) as client, ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(lambda _: client.get("/work").status_code, range(2)))
    assert statuses == [200, 200]


def test_a_request_that_waits_too_long_gets_503_with_retry_after_and_headers() -> None:
    with TestClient(_app(limit=1, wait=0.1, work=1.0)) as client, ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda _: client.get("/work"), range(2)))
    refused = [r for r in responses if r.status_code == 503]
    assert len(refused) == 1 and [r.status_code for r in responses if r is not refused[0]] == [200]
    response = refused[0]
    assert response.headers["Retry-After"] == "2"
    assert response.headers["Content-Security-Policy"] and response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.json() == {"detail": "the server is busy; please try again in a moment"}
