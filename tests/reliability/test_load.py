"""A short load test of a real `jbqa serve`: 20 concurrent clients asking the gold questions for 5 s."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jbqa.eval.load import run_load
from jbqa.server.config import Settings

CLIENTS = 20
SECONDS = 5.0


@pytest.mark.slow
def test_twenty_clients_for_five_seconds_get_no_errors(live_server: Any) -> None:
    result = run_load(live_server.url, clients=CLIENTS, seconds=SECONDS)
    report = result.to_dict()
    print(f"load: {report}")
    assert result.errors == 0, report["error_samples"]
    assert result.requests > 0
    assert result.requests >= CLIENTS  # each client completed at least one request
    assert report["throughput_rps"] > 0
    # No request came near the answer timeout (a 503 there would have counted as an error anyway).
    assert report["latency_ms_p99"] < Settings().ask_timeout_seconds * 1000
    assert SECONDS <= result.seconds < SECONDS + 30
    assert live_server.proc.poll() is None
    assert httpx.get(f"{live_server.url}/api/health", timeout=10).status_code == 200
