"""A bounded load test of a running jbqa server: N concurrent clients asking gold questions."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jbqa.eval.metrics import percentile
from jbqa.eval.run import DEFAULT_GOLD, load_gold

REQUEST_TIMEOUT_S = 30.0


@dataclass
class LoadResult:
    clients: int
    seconds: float  # from the start until the last request in flight at the deadline returned
    window: float = 0.0  # the seconds asked for: requests are started only within them
    requests: int = 0
    answered_in_window: int = 0  # answered requests that returned before the deadline
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)  # HTTP status, or the exception's name -> count

    def to_dict(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "errors": self.errors,
            "error_samples": self.error_samples[:5],
            "throughput_rps": round(self.requests / self.seconds, 2) if self.seconds else 0.0,
            "answered": self.requests - self.errors,
            # Answers per second of the window: what returned after the deadline is not counted,
            # so many clients' last, slow round does not lower the rate.
            "answered_rps": round(self.answered_in_window / self.window, 2) if self.window else 0.0,
            "statuses": dict(sorted(self.statuses.items())),
            "latency_ms_p50": round(percentile(self.latencies_ms, 50), 2),
            "latency_ms_p99": round(percentile(self.latencies_ms, 99), 2),
        }


async def _client(http: httpx.AsyncClient, questions: itertools.cycle[str], deadline: float, result: LoadResult) -> None:
    """One client: a question, its answer, the next question, until the deadline."""
    while time.perf_counter() < deadline:
        question = next(questions)
        started = time.perf_counter()
        try:
            response = await http.post("/api/ask", json={"question": question})
            status = str(response.status_code)
            if response.status_code == 503 and "retry-after" not in response.headers:
                status += " without Retry-After"
            ok = response.status_code == 200 and "answers" in response.json()
            detail = f"HTTP {response.status_code}: {response.text[:200]}"
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            status = exc.__class__.__name__
            ok, detail = False, f"{exc.__class__.__name__}: {exc}"
        result.statuses[status] = result.statuses.get(status, 0) + 1
        returned = time.perf_counter()
        result.latencies_ms.append((returned - started) * 1000)
        result.requests += 1
        result.answered_in_window += ok and returned <= deadline
        if not ok:
            result.errors += 1
            result.error_samples.append(detail)


async def _run(base_url: str, clients: int, seconds: float, questions: list[str]) -> LoadResult:
    result = LoadResult(clients, seconds, seconds)
    cycle = itertools.cycle(questions)
    # One connection per client, from one pool: setting up a client per task costs the machine
    # more at the start than the server's answers do.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_client(http, cycle, deadline, result) for _ in range(clients)))
        result.seconds = time.perf_counter() - started
    return result


def run_load(base_url: str, clients: int = 20, seconds: float = 30.0, gold: Path = DEFAULT_GOLD) -> LoadResult:
    """Run `clients` concurrent askers for `seconds` (each stops at the deadline) against `base_url`."""
    if not 1 <= clients <= 200 or not 0 < seconds <= 600:
        raise ValueError("clients must be 1..200 and seconds 0..600")
    questions = [item.question for item in load_gold(gold)]
    return asyncio.run(_run(base_url, clients, seconds, questions))
