"""The chat page in headless Chromium against a live uvicorn server."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from jbqa.answerer import Answerer
from jbqa.answerer.question import NOT_A_QUESTION_HINT
from jbqa.index.store import LoadedIndex, build_index
from jbqa.server.main import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
QUESTION = "江北区金融机构有多少家"
MARKUP_QUESTION = "<img src=x onerror=alert(1)>"
ABSTAIN = "抱歉，资料中没有能回答这个问题的内容。"
NOT_CHINESE = "资料是中文的，请用中文提问（例如：江北区金融机构有多少家）。"
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
MARKUP_CORPUS = (
    "江北区测试资料\n"
    "截至今年，江北区共有测试机构<img src=x onerror=alert(2)>520家，另有<script>alert(3)</script>说明文字。\n"
    "观音桥商圈是重庆著名的商业中心，每天都有很多游客前来购物和游玩。\n"
)


@pytest.fixture(scope="module")
def serve(serve_in_thread: Callable[[uvicorn.Config], AbstractContextManager[int]]) -> Callable[[FastAPI], Any]:
    """Run an app under uvicorn in a thread on a free loopback port, for the block; yields its URL."""

    @contextmanager
    def run(app: FastAPI) -> Iterator[str]:
        with serve_in_thread(uvicorn.Config(app, log_level="warning")) as port:
            yield f"http://127.0.0.1:{port}"

    return run


@pytest.fixture(scope="module")
def base_url(e5_index: LoadedIndex, serve: Callable[[FastAPI], Any]) -> Iterator[str]:
    with serve(create_app(e5_index)) as url:
        yield url


@pytest.fixture(scope="module")
def markup_url(tmp_path_factory: pytest.TempPathFactory, serve: Callable[[FastAPI], Any]) -> Iterator[str]:
    """A server over a corpus whose text holds HTML and script."""
    root = tmp_path_factory.mktemp("markup")
    (root / "corpus").mkdir()
    (root / "corpus" / "markup.txt").write_text(MARKUP_CORPUS, encoding="utf-8")
    with serve(create_app(build_index(root / "corpus", root / "index", "offline"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; the browser tests must run in CI")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watch:
    """What a page did that it must not: dialogs, CSP violations, script errors, requests elsewhere."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self._console(msg.type, msg.text))
        page.on("request", lambda req: None if req.url.startswith(self.origin) else self.foreign.append(req.url))

    def _console(self, kind: str, text: str) -> None:
        if "Content Security Policy" in text:
            self.violations.append(text)
        elif kind == "error" and "favicon" not in text:
            self.errors.append(text)

    def assert_clean(self) -> None:
        assert self.dialogs == [], "a dialog fired: markup was executed"
        assert self.violations == []
        assert self.errors == []
        assert self.foreign == [], "the page fetched from another origin"


OpenChat = Callable[..., tuple[Any, Watch]]


@pytest.fixture
def open_chat(browser: Any) -> Iterator[OpenChat]:
    contexts: list[Any] = []

    def open_(url: str, **options: Any) -> tuple[Any, Watch]:
        context = browser.new_context(locale="zh-CN", permissions=["clipboard-read", "clipboard-write"], **options)
        contexts.append(context)
        page = context.new_page()
        watch = Watch(url)
        watch.attach(page)
        page.goto(url + "/")
        page.wait_for_selector("#index-info:not(:empty)")  # the health call has come back
        return page, watch

    yield open_
    for context in contexts:
        context.close()


def ask(page: Any, question: str) -> Any:
    """Type a question, press Enter, and return the reply once it is complete."""
    turns = page.locator(".turn")
    before = turns.count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    reply = turns.nth(before).locator(".reply")
    reply.and_(page.locator(":not(.pending)")).wait_for()
    return reply


def save_screenshot(page: Any, name: str, whole_page: bool = False) -> None:
    if whole_page:  # grow the window to the page, so the sticky question box sits at the bottom
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def horizontal_overflow(page: Any) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_answer_shows_the_figure_its_source_and_context(
    open_chat: OpenChat, base_url: str, page_answerer: Answerer
) -> None:
    from playwright.sync_api import expect

    result = page_answerer.ask(QUESTION)
    expected = result.answers[0]
    page, watch = open_chat(base_url, **DESKTOP)
    expect(page).to_have_title("江北区资料问答")
    expect(page.locator("#question")).to_have_attribute("placeholder", "请输入问题，例如：江北区金融机构有多少家")

    reply = ask(page, QUESTION)
    card = reply.locator(".quote-card").first
    expect(card.locator(".quote")).to_have_text(expected.quote)
    expect(card.locator(".quote")).to_contain_text(re.compile("480|490"))
    expect(card.locator(".quote mark")).to_have_text(expected.answer or "")
    expect(card.locator(".file")).to_have_text(expected.source)
    expect(card.locator(".lines")).to_contain_text(str(expected.line_start))
    expect(page.locator(".question").last).to_have_text(QUESTION)

    # Different counts of the same thing in different sources: the page lists them, newest document
    # first, each labelled by its date (no word that claims one is right) and linked to its card.
    assert len(result.conflict) > 1
    conflict = reply.locator(".conflict")
    expect(conflict).to_contain_text("不同资料给出的数字不同")
    rows = conflict.locator(".figures li")
    expect(rows).to_have_count(len(result.conflict))
    newest = sorted(result.conflict, key=lambda i: result.answers[i].date or "", reverse=True)
    expect(rows.locator(".figure")).to_have_text([result.answers[i].answer or "" for i in newest])
    expect(rows.locator(".marker")).to_have_text([f"[{i + 1}]" for i in newest])
    expect(conflict).not_to_contain_text("最新")
    year, month = (result.answers[newest[0]].date or "").split("-")[:2]
    expect(rows.first.locator(".figure-date")).to_have_text(f"{year}年{int(month)}月")
    expect(card.locator(".title")).to_have_text(f"{expected.title}（{expected.date}）")

    card.get_by_role("button", name="查看上下文").click()
    context = card.locator(".context")
    expect(context.locator(".line.in-quote").first).to_be_visible()
    expect(context.locator(".line.in-quote .number").first).to_have_text(str(expected.line_start))
    expect(context.locator("mark")).to_have_text(expected.answer or "")
    shown = context.locator(".line").count()
    context.get_by_role("button", name="显示更多").click()
    expect(context.locator(".line.in-quote").first).to_be_visible()
    assert context.locator(".line").count() > shown

    card.get_by_role("button", name="复制引用").click()
    expect(card.get_by_role("button", name="已复制")).to_be_visible()
    citation = page.evaluate("navigator.clipboard.readText()")
    assert expected.quote in citation and expected.source in citation
    assert f"{expected.line_start}–{expected.line_end}" in citation or str(expected.line_start) in citation

    save_screenshot(page, "chat-answer.png", whole_page=True)
    watch.assert_clean()


@pytest.fixture(scope="module")
def page_answerer(answerer: Answerer) -> Answerer:
    """What the page's server answers with: the default reader over the default index."""
    return answerer


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_each_reply_opens_with_the_answer_and_markers_to_its_cards(
    open_chat: OpenChat, base_url: str, page_answerer: Answerer, device: str
) -> None:
    from playwright.sync_api import expect

    result = page_answerer.ask(QUESTION)
    first = result.answers[0]
    assert first.answer
    page, watch = open_chat(base_url, **(DESKTOP if device == "desktop" else PHONE))
    reply = ask(page, QUESTION)
    line = reply.locator(".answer-line")
    expect(line).to_have_count(1)
    expect(line.locator(".answer-text")).to_have_text(first.answer)
    same = [i for i, a in enumerate(result.answers) if a.answer == first.answer]
    expect(line.locator(".marker")).to_have_text([f"[{i + 1}]" for i in same])
    # The line comes first; the cards follow as before.
    assert reply.locator(":scope > *").first.get_attribute("class") == "answer-line"
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    line.locator(".marker").first.click()
    card = reply.locator(".quote-card").first
    expect(card).to_be_focused()
    expect(card).to_be_in_viewport()
    save_screenshot(page, f"chat-answer-line-{device}.png")
    watch.assert_clean()


def test_an_answer_without_a_span_opens_with_its_key_clause(open_chat: OpenChat, markup_url: str) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(markup_url, **DESKTOP)
    reply = ask(page, "观音桥商圈是什么地方")
    text = reply.locator(".answer-line .answer-text").inner_text()
    assert text and text in reply.locator(".quote-card .quote").first.inner_text()
    expect(reply.locator(".answer-line .marker").first).to_have_text("[1]")
    watch.assert_clean()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_weak_answer_says_so(open_chat: OpenChat, base_url: str, page_answerer: Answerer, device: str) -> None:
    from playwright.sync_api import expect

    weak = "江北区面积多大"
    result = page_answerer.ask(weak)
    assert not result.abstained and result.confidence < 0.5, result.confidence
    page, watch = open_chat(base_url, **(DESKTOP if device == "desktop" else PHONE))
    reply = ask(page, weak)
    expect(reply.locator(".confidence.low")).to_have_text(re.compile("^证据较弱，请核对原文"))
    assert reply.locator(":scope > *").nth(1).get_attribute("class") == "confidence low"  # right under the answer
    save_screenshot(page, f"chat-weak-{device}.png")
    strong = page_answerer.ask(QUESTION)
    reply = ask(page, QUESTION)
    cue = {"high": 0, "medium": 1, "low": 1}[strong.to_dict()["confidence_band"]]
    expect(reply.locator(".confidence")).to_have_count(cue)
    expect(reply.locator(".confidence.low")).to_have_count(0)
    watch.assert_clean()


TEA_CORPUS = {  # another place and subject; a count and an area both near the question
    "a.txt": "青溪镇茶产业发展情况\n2021年3月1日，青溪镇召开茶产业发展大会。截至2021年3月，"
             "青溪镇共有茶叶企业120家，茶园面积约300公顷，年产干茶800吨。\n青溪镇地处山区，气候湿润，适宜种茶。\n",
    "b.txt": "青溪镇茶叶企业持续增加\n2023年5月20日，记者从青溪镇获悉，青溪镇茶叶企业已达150余家，带动就业2000人。\n",
    "c.txt": "青溪镇概况\n2022年8月10日发布。青溪镇总面积86平方公里，户籍人口3.2万人，下辖12个村。\n",
    "d.txt": "青溪镇茶叶产业园建成\n2022年11月5日，青溪镇茶叶产业园建成，入园茶叶企业占地约35公顷。\n",
}


TEA_SIDECAR = {"file": "b.txt", "publisher": "青溪日报", "date": "2023-05-20", "date_kind": "published",
               "url": "https://example.org/qingxi/2023/0520.html"}


@pytest.fixture(scope="module")
def tea_index(tmp_path_factory: pytest.TempPathFactory) -> LoadedIndex:
    root = tmp_path_factory.mktemp("tea")
    (root / "corpus").mkdir()
    for name, text in TEA_CORPUS.items():
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    (root / "corpus" / "metadata.jsonl").write_text(json.dumps(TEA_SIDECAR, ensure_ascii=False) + "\n", encoding="utf-8")
    return build_index(root / "corpus", root / "index", "offline")


@pytest.fixture(scope="module")
def tea_url(tea_index: LoadedIndex, serve: Callable[[FastAPI], Any]) -> Iterator[str]:
    with serve(create_app(tea_index)) as url:
        yield url


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_conflict_notice_lists_one_measure_only(
    open_chat: OpenChat, tea_url: str, tea_index: LoadedIndex, device: str
) -> None:
    from playwright.sync_api import expect

    tea = Answerer(tea_index)
    mixed = tea.ask("青溪镇的茶叶企业有多少")  # an area and a count: not two values of one figure
    units = {a.answer[-2:] for a in mixed.answers if a.answer}
    assert {"公顷", "余家"} <= units and mixed.conflict == []
    page, watch = open_chat(tea_url, **(DESKTOP if device == "desktop" else PHONE))
    expect(ask(page, "青溪镇的茶叶企业有多少").locator(".conflict")).to_have_count(0)

    for question in ("青溪镇茶叶企业有多少家", "青溪镇茶叶企业有几家"):  # the same facts, the same notice
        reply = ask(page, question)
        conflict = reply.locator(".conflict")
        rows = conflict.locator(".figures li")
        if device == "phone":  # one line that opens
            expect(rows.first).to_be_hidden()
            box = conflict.bounding_box()
            assert box and box["height"] < 60, box
            conflict.locator("summary").click()
        expect(rows.locator(".figure")).to_have_text(["达150余家", "120家"])
        expect(rows.locator(".figure-date")).to_have_text(["2023年5月20日", "2021年3月1日"])
        rows.last.locator(".marker").click()
        target = reply.locator(".quote-card").filter(has_text="120家")
        expect(target).to_be_focused()
    reply.scroll_into_view_if_needed()
    save_screenshot(page, f"chat-conflict-{device}.png")
    watch.assert_clean()


def test_a_copied_citation_reads_like_a_reference(open_chat: OpenChat, tea_url: str) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(tea_url, **DESKTOP)
    # Both documents answer; the one whose sidecar names a publisher is cited, wherever it ranks.
    card = ask(page, "青溪镇茶叶企业有多少家").locator(".quote-card").filter(has_text="b.txt").first
    expect(card.locator(".publisher")).to_have_text("青溪日报")
    expect(card.locator(".date-kind")).to_have_text("发布")
    card.get_by_role("button", name="复制引用").click()
    expect(card.get_by_role("button", name="已复制")).to_be_visible()
    citation = page.evaluate("navigator.clipboard.readText()")
    assert citation == (
        "“2023年5月20日，记者从青溪镇获悉，青溪镇茶叶企业已达150余家，带动就业2000人。”"
        "——青溪镇茶叶企业持续增加，青溪日报，2023年5月20日（发布），第 2 段（b.txt，原始文本第 2 行）。"
        "https://example.org/qingxi/2023/0520.html"
    ), citation
    save_screenshot(page, "chat-citation.png")
    watch.assert_clean()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_full_document_shows_the_quote_in_view(
    open_chat: OpenChat, base_url: str, page_answerer: Answerer, device: str
) -> None:
    from playwright.sync_api import expect

    expected = page_answerer.ask(QUESTION).answers[0]
    page, watch = open_chat(base_url, **(DESKTOP if device == "desktop" else PHONE))
    card = ask(page, QUESTION).locator(".quote-card").first
    with page.context.expect_page() as opened:
        card.get_by_role("link", name=re.compile("^阅读全文：引文 1")).click()
    doc = opened.value
    doc_watch = Watch(base_url)
    doc_watch.attach(doc)
    mark = doc.locator("mark")
    expect(mark).to_have_text(expected.quote)
    expect(mark).to_be_in_viewport()
    paragraph = doc.locator(".para.in-quote")
    expect(paragraph).to_be_focused()
    expect(paragraph.locator(".para-number")).to_have_text(f"第 {expected.paragraph} 段")
    expect(doc.locator("h1")).to_have_text(expected.title or expected.source)
    expect(doc.locator("#doc-meta")).to_contain_text("据文中推断")
    assert doc.locator(".para").count() > expected.paragraph
    assert horizontal_overflow(doc) <= 0
    save_screenshot(doc, f"doc-view-{device}.png")
    doc.goto(base_url + "/doc/nope.txt")
    expect(doc.locator("#doc-status")).to_contain_text("无法加载")
    doc_watch.errors.clear()  # the 404 is logged by the browser
    doc_watch.assert_clean()
    watch.assert_clean()


@pytest.mark.parametrize(
    ("corpus", "turns"),
    [
        ("bundled", [("观音桥在哪里", None), ("那它的面积呢", "观音桥的面积是多少")]),
        ("tea", [("青溪镇有多少茶叶企业", None), ("那它的面积呢", "青溪镇的面积是多少"),
                 ("户籍人口呢", "青溪镇的户籍人口是多少")]),
    ],
)
def test_a_follow_up_question_is_answered_about_the_previous_subject(
    open_chat: OpenChat, base_url: str, tea_url: str, corpus: str, turns: list[tuple[str, str | None]]
) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(base_url if corpus == "bundled" else tea_url, **PHONE)
    sent: list[Any] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}")) if r.url.endswith("/api/ask") else None)
    for question, answered in turns:
        reply = ask(page, question)
        if answered is None:
            expect(reply.locator(".answered-as")).to_have_count(0)
            continue
        expect(reply.locator(".answered-as")).to_have_text(f"按「{answered}」回答")
        subject = answered.split("的")[0]
        expect(reply.locator(".quote-card .quote").first).to_contain_text(subject)
    assert [s["history"] for s in sent] == [[]] + [[q if a is None else a for q, a in turns[:k]]
                                                   for k in range(1, len(turns))]
    page.locator(".turn").last.evaluate("turn => turn.scrollIntoView({block: 'start'})")
    save_screenshot(page, f"chat-follow-up-{corpus}.png")
    page.get_by_role("button", name="新对话").click()  # a new conversation leans on nothing
    expect(ask(page, turns[-1][0]).locator(".answered-as")).to_have_count(0)
    assert sent[-1]["history"] == []
    watch.assert_clean()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_refusal_offers_near_questions_and_says_what_the_documents_are(
    open_chat: OpenChat, base_url: str, page_answerer: Answerer, device: str
) -> None:
    from playwright.sync_api import expect

    near_miss = "金融机构的利润是多少"  # the documents count the institutions, but give no profit
    result = Answerer(page_answerer.index, suggest=True).ask(near_miss)  # as the server answers
    assert result.abstained and len(result.suggestions) >= 2, result
    page, watch = open_chat(base_url, **(DESKTOP if device == "desktop" else PHONE))
    reply = ask(page, near_miss)
    expect(reply.locator("p").first).to_have_text(ABSTAIN)
    expect(reply).not_to_contain_text("换个说法")
    expect(reply.locator(".suggestion")).to_have_text(result.suggestions)
    titles = [d.title for d in page_answerer.documents.values()]
    expect(reply.locator(".coverage-list li")).to_have_count(len(titles))
    expect(reply.locator(".coverage")).to_contain_text(titles[1] or "")
    save_screenshot(page, f"chat-refusal-{device}.png")
    reply.locator(".suggestion").first.click()  # asks it
    answered = page.locator(".turn").last.locator(".reply")
    expect(page.locator(".turn .question").last).to_have_text(result.suggestions[0])
    expect(answered.locator(".quote-card").first).to_be_visible()
    expect(page.locator("#question")).to_be_focused()

    nothing_close = ask(page, "江北区有几所大学")  # nothing in the documents is about universities
    expect(nothing_close.locator(".suggestion")).to_have_count(0)
    expect(nothing_close).not_to_contain_text("换个说法")
    expect(nothing_close.locator(".coverage-list li")).to_have_count(len(titles))
    watch.assert_clean()


def test_markup_in_a_question_is_shown_as_text(open_chat: OpenChat, base_url: str) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(base_url, **DESKTOP)
    reply = ask(page, MARKUP_QUESTION)
    expect(page.locator(".question").last).to_have_text(MARKUP_QUESTION)
    expect(page.get_by_text(MARKUP_QUESTION, exact=True)).to_be_visible()
    expect(reply).to_have_text(NOT_CHINESE)  # no Chinese in it: the hint, not the plain refusal
    page.wait_for_timeout(300)  # time for an injected onerror handler to fire
    assert page.locator("img").count() == 0
    watch.assert_clean()


def test_a_question_with_no_chinese_word_shows_the_servers_hint(open_chat: OpenChat, base_url: str) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(base_url, **DESKTOP)
    expect(ask(page, "区").locator("p").first).to_have_text(NOT_A_QUESTION_HINT)  # as `jbqa ask 区` says
    watch.assert_clean()


def test_markup_in_the_corpus_is_shown_as_text(open_chat: OpenChat, markup_url: str) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(markup_url, **DESKTOP)
    reply = ask(page, "江北区测试机构有多少家")
    card = reply.locator(".quote-card").first
    expect(card.locator(".quote")).to_contain_text("<img src=x onerror=alert(2)>")
    expect(card.locator(".quote")).to_contain_text("<script>alert(3)</script>")
    expect(card.locator(".quote mark")).to_have_text("520家")
    card.get_by_role("button", name="查看上下文").click()
    expect(card.locator(".context .line.in-quote")).to_contain_text("<script>alert(3)</script>")
    expect(card.locator(".context mark")).to_have_text("520家")
    page.wait_for_timeout(300)
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1  # only /static/app.js
    watch.assert_clean()


def test_empty_question_is_not_sent(open_chat: OpenChat, base_url: str) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(base_url, **DESKTOP)
    page.locator("#question").fill("   ")
    page.locator("#question").press("Enter")
    expect(page.locator("#hint")).to_have_text("请先输入问题。")
    assert page.locator(".turn").count() == 0
    watch.assert_clean()


def test_phone_screen_has_no_horizontal_overflow(open_chat: OpenChat, base_url: str) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(base_url, **PHONE)
    assert horizontal_overflow(page) <= 0
    # A phone keyboard has no Enter and Shift keys to tell of.
    assert "在下方输入问题。" in page.locator("#welcome").inner_text()  # what is rendered: not 按 Enter 发送
    expect(page.locator("#hint")).to_be_hidden()
    reply = ask(page, QUESTION)
    card = reply.locator(".quote-card").first
    card.get_by_role("button", name="查看上下文").click()
    expect(card.locator(".context .line.in-quote").first).to_be_visible()
    assert horizontal_overflow(page) <= 0
    expect(page.locator("#question")).to_be_in_viewport()
    expect(page.locator("#send")).to_be_in_viewport()
    # A document's date may wrap as a whole onto the next line, never break inside (2020-/05).
    line_boxes = page.locator(".date").evaluate_all("nodes => nodes.map(n => n.getClientRects().length)")
    assert page.locator(".context-title .date").count() == 1
    assert line_boxes and set(line_boxes) == {1}, line_boxes
    card.get_by_role("button", name="收起上下文").click()
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "chat-phone.png")
    watch.assert_clean()


@pytest.mark.parametrize(("path", "shown"), [("/docs", ".opblock-summary-path"), ("/redoc", "[data-section-id]")])
def test_the_api_docs_show_the_operations_offline(browser: Any, base_url: str, path: str, shown: str) -> None:
    """/docs (Swagger UI) and /redoc (ReDoc) with every asset served by the app: nothing is fetched
    from elsewhere (ReDoc's footer logo, on its CDN, is blocked by the page's policy)."""
    from playwright.sync_api import expect

    context = browser.new_context()
    elsewhere: list[str] = []
    try:
        page = context.new_page()
        ours = (base_url, "blob:" + base_url, "data:")

        def outgoing(request: Any) -> None:
            # Only requests the page's own policy stops before the network are allowed to point elsewhere.
            if not request.url.startswith(ours) and "csp" not in (request.failure or ""):
                elsewhere.append(f"{request.url} ({request.failure})")

        page.on("requestfinished", outgoing)
        page.on("requestfailed", outgoing)
        page.goto(base_url + path)
        expect(page.locator(shown).filter(has_text="/api/ask").first).to_be_attached(timeout=15000)
        expect(page.get_by_text("江北区资料问答 API").first).to_be_visible()
        assert elsewhere == [], "the docs page fetched from another origin"
    finally:
        context.close()


# --- the conversation, errors, long or foreign questions, accessibility ---------------------------

AXE = REPO / ".jbqa-test-tools" / "node_modules" / "axe-core" / "axe.min.js"


def fail_once(page: Any, pattern: str, fail: Callable[[Any], None]) -> None:
    """The first request matching `pattern` fails as `fail` says; the next ones go through."""
    left = [1]

    def handle(route: Any) -> None:
        if left[0]:
            left[0] -= 1
            fail(route)
        else:
            route.continue_()

    page.route(pattern, handle)


def test_a_failed_context_can_be_retried(open_chat: OpenChat, base_url: str) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(base_url, **DESKTOP)
    fail_once(page, "**/api/sources/**", lambda route: route.abort())
    card = ask(page, QUESTION).locator(".quote-card").first
    card.get_by_role("button", name="查看上下文").click()
    expect(card.locator(".context")).to_contain_text("原文加载失败")
    card.get_by_role("button", name="重新加载原文").click()
    expect(card.locator(".line.in-quote").first).to_be_visible()
    watch.errors.clear()  # the aborted request is logged by the browser


def test_new_chat_clears_the_conversation_and_brings_the_examples_back(open_chat: OpenChat, base_url: str) -> None:
    from playwright.sync_api import expect

    page, _ = open_chat(base_url, **DESKTOP)
    ask(page, QUESTION)
    expect(page.locator("#welcome")).to_be_hidden()
    page.reload()
    page.wait_for_selector("#index-info:not(:empty)")
    expect(page.locator(".turn")).to_have_count(1)  # kept in the browser across a reload
    expect(page.locator(".turn .question")).to_have_text(QUESTION)
    expect(page.locator(".quote-card").first).to_be_visible()
    page.get_by_role("button", name="新对话").click()
    expect(page.locator(".turn")).to_have_count(0)
    expect(page.locator("#welcome")).to_be_visible()
    expect(page.locator("#announce")).to_contain_text("可撤销")
    page.get_by_role("button", name="撤销").click()  # for a few seconds it can be undone
    expect(page.locator(".turn")).to_have_count(1)
    expect(page.locator(".turn .question")).to_have_text(QUESTION)
    expect(page.locator("#welcome")).to_be_hidden()
    expect(page.get_by_role("button", name="撤销")).to_be_hidden()
    page.reload()
    page.wait_for_selector("#index-info:not(:empty)")
    expect(page.locator(".turn")).to_have_count(1)  # back in the browser's storage too
    page.clock.install()
    page.get_by_role("button", name="新对话").click()
    expect(page.get_by_role("button", name="撤销")).to_be_visible()
    save_screenshot(page, "chat-undo.png")
    page.clock.run_for(9000)
    expect(page.get_by_role("button", name="撤销")).to_be_hidden()  # then it is gone
    page.reload()
    page.wait_for_selector("#index-info:not(:empty)")
    expect(page.locator(".turn")).to_have_count(0)


def test_after_an_error_the_question_stays_and_can_be_retried(open_chat: OpenChat, base_url: str) -> None:
    from playwright.sync_api import expect

    page, watch = open_chat(base_url, **DESKTOP)
    fail_once(page, "**/api/ask", lambda route: route.fulfill(status=503, content_type="application/json",
                                                              body='{"detail": "busy"}'))
    reply = ask(page, QUESTION)
    expect(reply).to_contain_text("服务暂时不可用")
    expect(page.locator("#question")).to_have_value(QUESTION)  # not lost
    reply.get_by_role("button", name=f"重试：{QUESTION}").click()
    expect(page.locator(".quote-card").first).to_be_visible()
    expect(page.locator(".turn")).to_have_count(1)
    # Answered: the box is empty and the focus in it, for the next question (Enter does not ask again).
    expect(page.locator("#question")).to_have_value("")
    expect(page.locator("#question")).to_be_focused()
    watch.errors.clear()  # the 503 is logged by the browser


def test_a_long_paste_is_cut_with_a_notice_and_characters_are_code_points(open_chat: OpenChat, base_url: str) -> None:
    from playwright.sync_api import expect

    page, _ = open_chat(base_url, **DESKTOP)
    box = page.locator("#question")
    box.fill("问" * 600)
    expect(box).to_have_value("问" * 500)
    expect(page.locator("#hint")).to_have_text("问题最多 500 字：粘贴的 600 字已截为前 500 字。")
    box.fill("𠀀" * 3)  # outside the BMP: two UTF-16 units each, one character
    expect(page.locator("#count")).to_have_text("3/500")


def test_focus_stays_in_the_question_box_after_an_example(open_chat: OpenChat, base_url: str) -> None:
    from playwright.sync_api import expect

    page, _ = open_chat(base_url, **DESKTOP)
    page.locator(".example").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".turn")).to_have_count(1)
    expect(page.locator("#question")).to_be_focused()


def run_axe(page: Any, name: str) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated by the test, not loaded by the page
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(result["violations"], ensure_ascii=False, indent=1),
                                                encoding="utf-8")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result["violations"]]


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_has_no_accessibility_violations(
    open_chat: OpenChat, base_url: str, scheme: str, device: str
) -> None:
    """axe-core finds nothing, in the light and the dark scheme: an answer with its line, cue,
    conflict notice and context, a follow-up, a refusal with suggestions, a warning; the document view."""
    from playwright.sync_api import expect

    assert AXE.is_file(), "axe-core is installed by ./scripts/setup --test"
    page, _ = open_chat(base_url, **(DESKTOP if device == "desktop" else PHONE), color_scheme=scheme)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
    card = ask(page, QUESTION).locator(".quote-card").first
    card.get_by_role("button", name="查看上下文").click()
    expect(card.locator(".line.in-quote").first).to_be_visible()
    ask(page, "江北区面积多大")  # a weak answer: the cue
    ask(page, "金融机构的利润是多少")  # a refusal with suggestions
    expect(page.locator(".suggestion").first).to_be_visible()
    card.get_by_role("button", name="复制引用").click()
    page.locator("#question").fill("")
    page.locator("#question").press("Enter")  # the empty-question warning
    save_screenshot(page, f"chat-{scheme}-{device}.png", whole_page=True)
    assert run_axe(page, f"chat-{scheme}-{device}") == []
    page.goto(base_url + "/doc/" + card.locator(".file").inner_text() + "?start=0&end=40")
    expect(page.locator("mark")).to_be_visible()
    save_screenshot(page, f"doc-{scheme}-{device}.png")
    assert run_axe(page, f"doc-{scheme}-{device}") == []


def test_only_new_answers_are_announced(open_chat: OpenChat, base_url: str) -> None:
    """One polite live region says how many quotes a new answer has; the conversation itself is not
    live, and a conversation restored from the browser is not read out again."""
    from playwright.sync_api import expect

    page, watch = open_chat(base_url, **DESKTOP)
    announce = page.locator("[aria-live]:not(#hint)")
    expect(announce).to_have_count(1)
    assert page.locator("#log").get_attribute("aria-live") is None
    expect(announce).to_have_text("")
    reply = ask(page, QUESTION)
    answer = reply.locator(".answer-line .answer-text").inner_text()
    expect(announce).to_have_text(f"答：{answer}。 已找到 {reply.locator('.quote-card').count()} 段原文。")
    page.reload()
    page.wait_for_selector("#index-info:not(:empty)")
    expect(page.locator(".turn")).to_have_count(1)  # restored ...
    expect(announce).to_have_text("")  # ... and not announced
    page.get_by_role("button", name="新对话").click()
    watch.assert_clean()


def test_repeated_buttons_have_their_own_accessible_names(open_chat: OpenChat, base_url: str) -> None:
    page, watch = open_chat(base_url, **DESKTOP)
    cards = ask(page, QUESTION).locator(".quote-card")
    assert cards.count() >= 2
    names = [button.get_attribute("aria-label") or button.inner_text()
             for button in cards.locator("button").all()]
    assert len(names) == len(set(names)), names  # 查看上下文：引文 1, 查看上下文：引文 2, ...
    assert all(f"引文 {i + 1}" in names[2 * i] for i in range(cards.count())), names
    watch.assert_clean()
