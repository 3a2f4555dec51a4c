"""Fuzzing the HTTP API: no input may produce a server error.

Schemathesis generates requests from the OpenAPI schema of a real `jbqa serve` and checks every
response (its CLI, run as a child process). Hypothesis then throws arbitrary JSON and bytes at
/api/ask and arbitrary names and ranges at /api/sources in process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from jbqa.index.store import LoadedIndex
from jbqa.server.main import create_app

REPO = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 300  # per API operation and phase
FUZZ_SEED = 20240601
FUZZ_TIMEOUT_SECONDS = 120
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "unsupported_method",
    ]
)
NO_DATABASE = settings(
    database=None,  # nothing is written to a .hypothesis folder
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def schemathesis_command() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if not found:
        pytest.fail("the schemathesis CLI (st) is not installed")
    return found


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server: Any, tmp_path: Path) -> None:
    hypothesis_dir_existed = (REPO / ".hypothesis").exists()
    report = tmp_path / "schemathesis.json"
    command = [
        schemathesis_command(),
        "run",
        f"{live_server.url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(FUZZ_SEED),
        "--generation-database",
        "none",
        "--request-timeout",
        "15",
        "--workers",
        "2",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis")}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=FUZZ_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    result = json.loads(report.read_text(encoding="utf-8"))
    summary = {
        "operations": result["operations"],
        "test_cases": result["test_cases"],
        "failures": len(result["failures"]),
        "errors": len(result["errors"]),
        "seconds": round(result["running_time"], 1),
    }
    print(f"schemathesis: {json.dumps(summary)}")
    assert result["complete"] and result["stop_reason"] == "completed", summary
    # POST /api/ask, GET /api/health, GET /api/sources, GET /api/sources/{file}, GET /api/documents/{file}
    assert result["operations"]["tested"] == result["operations"]["total"] == 5, summary
    assert result["test_cases"]["generated"] >= 5 * 50, summary
    assert result["test_cases"]["with_failures"] == 0 and result["failures"] == [], summary
    assert result["errors"] == [], summary
    assert live_server.proc.poll() is None  # the server survived the run
    assert (REPO / ".hypothesis").exists() == hypothesis_dir_existed


# --- arbitrary input in process ------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis caches to disk even without a database: keep that out of the working folder.

    (The properties are run from inside plain tests, so that Hypothesis's pytest plugin does not
    scan for constants, and write that cache, at collection time, before this fixture runs.)"""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis-home"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def client(offline_index: LoadedIndex) -> Iterator[TestClient]:
    with TestClient(create_app(offline_index), raise_server_exceptions=False, base_url="http://127.0.0.1") as c:
        yield c


def assert_clean_refusal_or_answer(response: Any, allowed: set[int]) -> None:
    assert response.status_code in allowed, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if response.status_code >= 400:
        assert body["detail"]
    assert "Traceback" not in response.text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=600),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
ASK_BODIES = (
    JSON_VALUES
    | st.fixed_dictionaries({"question": JSON_VALUES})
    | st.fixed_dictionaries({"question": st.text(max_size=600)}, optional={"top": JSON_VALUES})
    | st.fixed_dictionaries({"question": st.text(min_size=1, max_size=80), "top": st.integers(-5, 30)})
)


def test_any_json_body_gets_an_answer_or_a_clear_4xx(client: TestClient) -> None:
    @NO_DATABASE
    @given(body=ASK_BODIES)
    def check(body: object) -> None:
        response = client.post("/api/ask", json=body)
        assert_clean_refusal_or_answer(response, {200, 422})
        if response.status_code == 200:
            assert isinstance(response.json()["answers"], list)

    check()


def test_any_bytes_get_a_clear_4xx(client: TestClient) -> None:
    @NO_DATABASE
    @given(raw=st.binary(max_size=2048), content_type=st.sampled_from(["application/json", "text/plain", "", "*/*"]))
    @example(raw=b"\x80", content_type="text/plain")  # once a 500: FastAPI echoed the body as UTF-8 text
    @example(raw=b"\xd6", content_type="")
    def check(raw: bytes, content_type: str) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        response = client.post("/api/ask", content=raw, headers=headers)
        assert_clean_refusal_or_answer(response, {200, 422})  # one status for whatever is not the JSON asked for

    check()


def test_any_source_request_gets_text_or_a_clear_4xx(client: TestClient, offline_index: LoadedIndex) -> None:
    sources = offline_index.sources
    names = sorted(sources)

    @NO_DATABASE
    @given(
        name=st.text(min_size=1, max_size=60) | st.sampled_from(names),
        start=st.none() | st.integers(-3, 400) | st.text(max_size=5),
        end=st.none() | st.integers(-3, 400),
    )
    @example(name=".", start=None, end=None)  # once sent as /api/sources, the list of sources
    @example(name="..", start=None, end=None)
    def check(name: str, start: object, end: object) -> None:
        params: dict[str, Any] = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
        # Dots escaped too: the client would resolve a name of "." or ".." as a path segment.
        response = client.get(f"/api/sources/{quote(name, safe='').replace('.', '%2E')}", params=params)
        assert_clean_refusal_or_answer(response, {200, 404, 422})
        if response.status_code == 200:
            data = response.json()
            assert data["text"] == sources[name][data["char_start"] : data["char_end"]]

    check()


def test_a_non_json_body_that_is_not_utf8_gets_422_not_500(client: TestClient) -> None:
    for content_type in ("text/plain", "application/octet-stream", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = client.post("/api/ask", content=b"\x80\xffquestion", headers=headers)
        assert_clean_refusal_or_answer(response, {422})
        assert response.json()["detail"][0]["loc"] == ["body"]
