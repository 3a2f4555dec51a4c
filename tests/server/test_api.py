"""The HTTP API and the page, through the real app on the offline index."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import anyio
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message

from jbqa.answerer import Answerer
from jbqa.answerer.model import model_version
from jbqa.answerer.question import NOT_A_QUESTION_HINT
from jbqa.cli import main as jbqa_main
from jbqa.index.store import LoadedIndex
from jbqa.server.config import Settings
from jbqa.server.main import create_app

QUESTION = "江北区金融机构有多少家"
LIMIT = 16 * 1024


@pytest.fixture(scope="module")
def client(offline_index: LoadedIndex) -> Iterator[TestClient]:
    with TestClient(create_app(offline_index, Settings(max_body_bytes=LIMIT)), base_url="http://127.0.0.1") as c:
        yield c


def assert_clear_4xx(response: Any, status: int | None = None) -> None:
    """A client error with a JSON {"detail": ...} message and nothing of a stack trace."""
    assert 400 <= response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert detail
    for trace in ("Traceback", 'File "', "site-packages", "Error:"):
        assert trace not in response.text


# --- /api/ask ----------------------------------------------------------------------------------


def test_ask_quotes_the_figure_with_its_source(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200
    data = response.json()
    assert not data["abstained"]
    first = data["answers"][0]
    assert any(figure in first["quote"] for figure in ("480", "490"))
    assert first["source"].endswith(".txt")
    assert 1 <= first["line_start"] <= first["line_end"]
    assert first["answer"] == first["quote"][first["answer_start"] : first["answer_end"]]


def test_ask_gives_the_same_json_as_the_cli(client: TestClient, offline_index: LoadedIndex) -> None:
    cli = CliRunner().invoke(jbqa_main, ["ask", QUESTION, "--index", str(offline_index.directory), "--json"])
    assert cli.exit_code == 0, cli.output
    assert client.post("/api/ask", json={"question": QUESTION}).json() == json.loads(cli.stdout)


def test_ask_top_limits_the_quotes(client: TestClient) -> None:
    data = client.post("/api/ask", json={"question": QUESTION, "top": 1}).json()
    assert len(data["answers"]) == 1


def test_ask_abstains_and_echoes_markup_as_plain_json(client: TestClient) -> None:
    question = "<img src=x onerror=alert(1)>"
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200
    data = response.json()
    assert data["abstained"] is True
    assert data["answers"] == []
    assert data["question"] == question


def test_ask_a_question_with_no_chinese_word_returns_the_hint_the_page_shows(client: TestClient) -> None:
    for question in ("a", "区"):
        data = client.post("/api/ask", json={"question": question}).json()
        assert data["abstained"] is True and data["answers"] == [] and data["confidence"] == 0
        assert data["hint"] == NOT_A_QUESTION_HINT
    assert client.post("/api/ask", json={"question": QUESTION}).json()["hint"] is None
    script = client.get("/static/app.js").text
    assert "data.hint" in script  # the page shows the server's hint in place of its own refusal


# --- bad input ---------------------------------------------------------------------------------

BAD_JSON_BODIES = {
    "empty question": {"question": ""},
    "whitespace question": {"question": "  \n\t\u3000 "},
    "question over 500 characters": {"question": "问" * 501},
    "question is a number": {"question": 123},
    "question is null": {"question": None},
    "question is a list": {"question": ["江北区"]},
    "question missing": {},
    "unknown field": {"question": QUESTION, "q": 1},
    "top is a string": {"question": QUESTION, "top": "3"},
    "top is a bool": {"question": QUESTION, "top": True},
    "top is a float": {"question": QUESTION, "top": 2.5},
    "top is zero": {"question": QUESTION, "top": 0},
    "top over the limit": {"question": QUESTION, "top": 21},
}


@pytest.mark.parametrize("body", BAD_JSON_BODIES.values(), ids=BAD_JSON_BODIES.keys())
def test_invalid_questions_get_a_clear_4xx(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/api/ask", json=body)
    assert_clear_4xx(response, 422)


BAD_RAW_BODIES = {
    "malformed json": b'{"question": ',
    "trailing garbage": b'{"question": "x"} x',
    "not an object": b"[]",
    "a bare string": '"江北区"'.encode(),
    "null": b"null",
    "empty body": b"",
    "invalid utf-8": b'{"question": "\xff\xfe"}',
    "deeply nested": b"[" * 5000,
}


@pytest.mark.parametrize("body", BAD_RAW_BODIES.values(), ids=BAD_RAW_BODIES.keys())
def test_malformed_bodies_get_a_clear_4xx(client: TestClient, body: bytes) -> None:
    response = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert_clear_4xx(response, 422)  # one status for every body that is not the JSON asked for
    assert all({"type", "loc", "msg"} <= error.keys() for error in response.json()["detail"])


def test_a_body_that_is_not_json_gets_a_clear_4xx(client: TestClient) -> None:
    response = client.post("/api/ask", content=f"question={QUESTION}", headers={"Content-Type": "text/plain"})
    assert_clear_4xx(response, 422)


def test_wrong_method_gets_a_json_405(client: TestClient) -> None:
    assert_clear_4xx(client.get("/api/ask"), 405)


def test_an_oversized_body_gets_413(client: TestClient) -> None:
    body = json.dumps({"question": "问" * LIMIT}).encode()
    response = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert_clear_4xx(response, 413)
    assert "too large" in response.json()["detail"]


def test_an_oversized_chunked_body_gets_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(LIMIT // 1000 + 2):
            yield b"a" * 1000
        yield b'"}'

    response = client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_clear_4xx(response, 413)


def test_a_body_just_under_the_limit_is_read(client: TestClient) -> None:
    body = json.dumps({"question": QUESTION, "pad": "a" * (LIMIT - 100)}).encode()
    assert len(body) <= LIMIT
    assert_clear_4xx(client.post("/api/ask", content=body, headers={"Content-Type": "application/json"}), 422)


def test_an_internal_error_is_a_json_500_without_trace(offline_index: LoadedIndex) -> None:
    class Broken:
        def ask(self, question: str, top: int = 3) -> None:
            raise RuntimeError("boom at /secret/path")

    app = create_app(offline_index)
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as c:
        app.state.answerer = Broken()
        response = c.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "boom" not in response.text


def test_a_slow_answer_does_not_block_other_requests(offline_index: LoadedIndex) -> None:
    app = create_app(offline_index)
    entered, release = threading.Event(), threading.Event()

    class Slow:
        def __init__(self, real: Answerer) -> None:
            self.real = real

        def ask(self, question: str, top: int = 3) -> Any:
            entered.set()
            release.wait(10)
            return self.real.ask(question, top)

    with TestClient(app, base_url="http://127.0.0.1") as c, ThreadPoolExecutor(1) as pool:
        app.state.answerer = Slow(app.state.answerer)
        pending = pool.submit(c.post, "/api/ask", json={"question": QUESTION})
        assert entered.wait(10)
        assert c.get("/api/health").status_code == 200
        assert not pending.done(), "the health check waited for the answer: the event loop was blocked"
        release.set()
        assert pending.result(10).status_code == 200


# --- /api/health -------------------------------------------------------------------------------


def test_health_reports_the_index(client: TestClient, offline_index: LoadedIndex) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok"
    assert data["embedder"] == offline_index.embedder_label
    assert data["passage_count"] == len(offline_index.passages) > 0
    assert data["built_at"] == offline_index.manifest["built_at"]
    assert data["files"] == sorted(offline_index.sources)
    assert data["reader"] == model_version() and data["reader"].startswith("light-reader-")


# --- /api/sources ------------------------------------------------------------------------------


def test_source_whole_file_is_the_raw_text(client: TestClient, offline_index: LoadedIndex) -> None:
    for name, raw in offline_index.sources.items():
        data = client.get(f"/api/sources/{name}").json()
        assert data["text"] == raw
        assert (data["file"], data["line_start"], data["line_end"]) == (name, 1, data["total_lines"])
        assert (data["char_start"], data["char_end"]) == (0, len(raw))
        final_break = raw.endswith("\n")  # a final line break opens no line
        assert data["total_lines"] == raw.count("\n") + (0 if final_break else 1)


def test_source_line_range_holds_each_answer(client: TestClient, offline_index: LoadedIndex) -> None:
    answers = client.post("/api/ask", json={"question": QUESTION}).json()["answers"]
    assert answers
    for a in answers:
        part = client.get(f"/api/sources/{a['source']}", params={"start": a["line_start"], "end": a["line_end"]})
        assert part.status_code == 200
        data = part.json()
        raw = offline_index.sources[a["source"]]
        assert (data["line_start"], data["line_end"]) == (a["line_start"], a["line_end"])
        assert data["text"] == raw[data["char_start"] : data["char_end"]]
        assert data["char_start"] <= a["char_start"] < a["char_end"] <= data["char_end"]
        assert data["text"].count("\n") in (a["line_end"] - a["line_start"], a["line_end"] - a["line_start"] + 1)
    first = client.get(f"/api/sources/{answers[0]['source']}", params={"start": answers[0]["line_start"]}).json()
    assert any(figure in first["text"] for figure in ("480", "490"))


def test_source_range_end_is_clipped_to_the_file(client: TestClient, offline_index: LoadedIndex) -> None:
    name = sorted(offline_index.sources)[0]
    total = client.get(f"/api/sources/{name}").json()["total_lines"]
    data = client.get(f"/api/sources/{name}", params={"start": total, "end": total + 50}).json()
    assert (data["line_start"], data["line_end"]) == (total, total)


@pytest.mark.parametrize(
    "params",
    [{"start": 0}, {"start": -1}, {"start": "abc"}, {"end": 0}, {"start": 10, "end": 5}, {"start": 100000}],
    ids=["zero", "negative", "text", "end zero", "end before start", "start past the end"],
)
def test_bad_line_ranges_get_a_clear_4xx(
    client: TestClient, offline_index: LoadedIndex, params: dict[str, Any]
) -> None:
    name = sorted(offline_index.sources)[0]
    assert_clear_4xx(client.get(f"/api/sources/{name}", params=params), 422)


@pytest.mark.parametrize(
    "path",
    [
        "/api/sources/nope.txt",
        "/api/sources/manifest.json",  # exists in the index folder, but is not an indexed file
        "/api/sources/passages.jsonl",
        "/api/sources/..%2F..%2Fetc%2Fpasswd",
        "/api/sources/%2Fetc%2Fpasswd",
        "/api/sources/../pyproject.toml",
        "/api/sources/%2e%2e%2fmanifest.json",
        "/api/sources/%2e%2e",
        "/api/sources/..%5Cmanifest.json",
        "/api/sources/sources%2F000_623d10d81843cc6a.txt",
        "/api/sources/",
    ],
)
def test_unknown_and_traversal_paths_get_404(client: TestClient, path: str) -> None:
    assert_clear_4xx(client.get(path), 404)


async def _raw_get(app: FastAPI, raw_path: str) -> int:
    """Send a path to the app exactly as given (HTTP clients would normalise `../` away)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


@pytest.mark.parametrize(
    "raw_path",
    [
        "/api/sources/../pyproject.toml",
        "/api/sources/../../etc/passwd",
        "/api/sources//etc/passwd",
        "/api/sources/..",
        "/api/sources/./000_623d10d81843cc6a.txt",
    ],
)
def test_literal_traversal_paths_get_404(offline_index: LoadedIndex, raw_path: str) -> None:
    app = create_app(offline_index)
    assert anyio.run(_raw_get, app, raw_path) == 404


# --- the page and the API description ----------------------------------------------------------

EXTERNAL_URL = re.compile(r"(?:https?:)?//[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.tags and self.tags[-1][0] == "script":
            self.inline_script += data.strip()


def test_page_is_served_with_a_strict_csp(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "江北区资料问答" in response.text


def test_page_has_no_inline_code_and_loads_its_own_assets(client: TestClient) -> None:
    parser = _Tags()
    parser.feed(client.get("/").text)
    assert not parser.inline_script
    tags = dict(parser.tags)
    assert "style" not in tags
    for tag, attrs in parser.tags:
        assert "style" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), tag
    scripts = [attrs["src"] for tag, attrs in parser.tags if tag == "script"]
    sheets = [attrs["href"] for tag, attrs in parser.tags if tag == "link" and attrs.get("rel") == "stylesheet"]
    assert scripts == ["/static/app.js"] and sheets == ["/static/style.css"]
    for url, kind in [("/static/app.js", "javascript"), ("/static/style.css", "text/css")]:
        asset = client.get(url)
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
        assert "content-security-policy" in asset.headers


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/style.css"])
def test_page_assets_have_no_external_urls(client: TestClient, path: str) -> None:
    text = client.get(path).text
    assert EXTERNAL_URL.findall(text) == []
    assert "@import" not in text and "@font-face" not in text


def test_page_builds_no_html_from_data() -> None:
    from jbqa.server.main import STATIC

    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script


def test_openapi_documents_the_answer_json(client: TestClient, answerer: Answerer) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert {"/api/ask", "/api/health", "/api/sources/{file}"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    ask = spec["paths"]["/api/ask"]["post"]
    assert ask["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskResponse")
    assert {"413", "422"} <= set(ask["responses"])
    example = answerer.ask(QUESTION).to_dict()
    assert set(schemas["AskResponse"]["properties"]) == set(example)
    assert set(schemas["AnswerOut"]["properties"]) == set(example["answers"][0])
    assert set(schemas["AskRequest"]["properties"]) == {"question", "top", "history"}
    assert schemas["AskRequest"]["properties"]["question"]["maxLength"] == 500


def test_docs_page_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


# --- hostile bodies: 4xx, never 5xx --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "\\ud800"}',  # a lone surrogate
        b'{"question": "ok", "top": NaN}',
        b'{"question": NaN}',
        b'{"question": Infinity}',
        b'{"question": "ok", "top": -Infinity}',
    ],
)
def test_bodies_json_cannot_carry_back_get_422(client: TestClient, body: bytes) -> None:
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"]


def test_an_error_about_many_unknown_keys_stays_small(client: TestClient) -> None:
    body = '{"question":"江北区",' + ",".join(f'"{i}":1' for i in range(1700)) + "}"  # 16 KB at most
    response = client.post("/api/ask", content=body.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert len(response.content) < 4096
    detail = response.json()["detail"]
    assert len(detail) == 11 and detail[-1]["msg"] == "1690 more errors"
    assert all("input" not in error for error in detail)  # submitted values are not echoed


def test_health_answers_head_requests(client: TestClient) -> None:
    response = client.head("/api/health")
    assert response.status_code == 200
    assert response.content == b""


def test_sources_lists_every_file_with_its_title_and_date(client: TestClient, offline_index: LoadedIndex) -> None:
    listed = client.get("/api/sources").json()
    assert [d["file"] for d in listed] == list(offline_index.sources)
    assert all(d["title"] for d in listed) and all(d["date"] for d in listed)  # the bundled sidecar's


def test_answers_carry_their_document_title_and_date(client: TestClient, offline_index: LoadedIndex) -> None:
    data = client.post("/api/ask", json={"question": QUESTION}).json()
    for answer in data["answers"]:
        meta = offline_index.documents[answer["source"]]
        assert (answer["title"], answer["date"]) == (meta.title, meta.date) and answer["title"]


def test_answers_carry_what_to_cite_them_by(client: TestClient, offline_index: LoadedIndex) -> None:
    data = client.post("/api/ask", json={"question": QUESTION}).json()
    first = data["answers"][0]
    meta = offline_index.documents[first["source"]]
    assert (first["date_kind"], first["publisher"], first["url"]) == (meta.date_kind, meta.publisher, meta.url)
    assert first["date_kind"] == "as_of"  # the bundled dates are inferred from the text
    assert data["confidence_band"] in ("high", "medium", "low")


def test_a_document_is_served_as_paragraphs_with_the_quote_located(client: TestClient) -> None:
    first = client.post("/api/ask", json={"question": QUESTION}).json()["answers"][0]
    doc = client.get(f"/api/documents/{first['source']}",
                     params={"start": first["char_start"], "end": first["char_end"]}).json()
    assert doc["file"] == first["source"] and doc["title"] == first["title"]
    marked = [i for i, p in enumerate(doc["paragraphs"]) if p["mark_start"] is not None]
    assert marked == [first["paragraph"] - 1]  # the answer's 第 N 段 is the paragraph shown with the quote
    p = doc["paragraphs"][marked[0]]
    assert p["text"][p["mark_start"] : p["mark_end"]] == first["quote"]
    whole = client.get(f"/api/documents/{first['source']}").json()
    assert all(p["mark_start"] is None for p in whole["paragraphs"])


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/documents/nope.txt", 404), ("/api/documents/..%2Fmanifest.json", 404),
     ("/api/documents/000_623d10d81843cc6a.txt?start=9&end=3", 422),
     ("/api/documents/000_623d10d81843cc6a.txt?start=-1", 422),
     ("/api/documents/000_623d10d81843cc6a.txt?start=" + "9" * 40, 422)],
)
def test_a_bad_document_request_is_a_clear_error(client: TestClient, path: str, status: int) -> None:
    assert_clear_4xx(client.get(path), status)


def test_a_follow_up_is_answered_from_the_history(client: TestClient) -> None:
    data = client.post("/api/ask", json={"question": "那它的面积呢", "history": ["观音桥在哪里"]}).json()
    assert data["question"] == "那它的面积呢"
    assert data["answered_question"] == "观音桥的面积是多少"
    alone = client.post("/api/ask", json={"question": QUESTION}).json()
    assert alone["answered_question"] == QUESTION


@pytest.mark.parametrize(
    "history",
    [["问题"] * 7, ["问" * 501], [""], [3], "观音桥在哪里", [None]],
)
def test_the_history_is_checked_like_the_question(client: TestClient, history: Any) -> None:
    response = client.post("/api/ask", json={"question": "面积呢", "history": history})
    assert_clear_4xx(response, 422)
    assert response.json()["detail"][0]["loc"][:2] == ["body", "history"]


def test_a_refusal_offers_near_questions_that_are_answered(client: TestClient) -> None:
    data = client.post("/api/ask", json={"question": "江北区金融机购有多少家"}).json()  # a typo for 机构
    assert data["abstained"] and data["answers"] == []
    assert 1 <= len(data["suggestions"]) <= 3
    for question in data["suggestions"]:
        assert not client.post("/api/ask", json={"question": question}).json()["abstained"], question
    assert client.post("/api/ask", json={"question": "江北区有几所大学"}).json()["suggestions"] == []  # nothing near
