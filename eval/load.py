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
    seconds: float
    requests: int = 0
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
            "answered_rps": round((self.requests - self.errors) / self.seconds, 2) if self.seconds else 0.0,
            "statuses": dict(sorted(self.statuses.items())),
            "latency_ms_p50": round(percentile(self.latencies_ms, 50), 2),
            "latency_ms_p99": round(percentile(self.latencies_ms, 99), 2),
        }


async def _client(base_url: str, questions: itertools.cycle[str], deadline: float, result: LoadResult) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as http:
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
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.requests += 1
            if not ok:
                result.errors += 1
                result.error_samples.append(detail)


async def _run(base_url: str, clients: int, seconds: float, questions: list[str]) -> LoadResult:
    result = LoadResult(clients, seconds)
    cycle = itertools.cycle(questions)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(base_url, cycle, deadline, result) for _ in range(clients)))
    result.seconds = time.perf_counter() - started
    return result


def run_load(base_url: str, clients: int = 20, seconds: float = 30.0, gold: Path = DEFAULT_GOLD) -> LoadResult:
    """Run `clients` concurrent askers for `seconds` (each stops at the deadline) against `base_url`."""
    if not 1 <= clients <= 200 or not 0 < seconds <= 600:
        raise ValueError("clients must be 1..200 and seconds 0..600")
    questions = [item.question for item in load_gold(gold)]
    return asyncio.run(_run(base_url, clients, seconds, questions))
