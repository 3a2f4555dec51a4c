"""Short load tests of a real `jbqa serve`: concurrent clients asking the gold questions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jbqa.eval.load import run_load
from jbqa.server.config import Settings

CLIENTS = 20
SECONDS = 5.0
FEW, MANY = 10, 100


@pytest.mark.slow
def test_twenty_clients_for_five_seconds_get_no_errors(live_server: Any) -> None:
    result = run_load(live_server.url, clients=CLIENTS, seconds=SECONDS)
    report = result.to_dict()
    print(f"load: {report}")
    assert result.errors == 0, report["error_samples"]
    assert report["statuses"] == {"200": result.requests}
    assert result.requests > 0
    assert result.requests >= CLIENTS  # each client completed at least one request
    assert report["throughput_rps"] > 0
    # No request came near the answer timeout (a 503 there would have counted as an error anyway).
    assert report["latency_ms_p99"] < Settings().ask_timeout_seconds * 1000
    assert SECONDS <= result.seconds < SECONDS + 30
    assert live_server.proc.poll() is None
    assert httpx.get(f"{live_server.url}/api/health", timeout=10).status_code == 200


@pytest.mark.slow
def test_a_hundred_clients_do_not_halve_the_answered_throughput(live_server: Any) -> None:
    """100 clients at once, more than the requests let into the app (64): the others wait for a
    place instead of being turned away, and answers per second stay at least half of 10 clients'.
    Any 503 would have to carry Retry-After (load counts one without it apart)."""
    few = run_load(live_server.url, clients=FEW, seconds=SECONDS).to_dict()
    many = run_load(live_server.url, clients=MANY, seconds=SECONDS).to_dict()
    print(f"load: {FEW} clients {few}\nload: {MANY} clients {many}")
    assert set(many["statuses"]) <= {"200", "503"}, many["error_samples"]
    assert many["answered"] >= MANY  # every client was answered at least once
    assert many["answered_rps"] >= 0.5 * few["answered_rps"], (few, many)
    assert live_server.proc.poll() is None
