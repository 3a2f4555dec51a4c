"""Answers quote the corpus exactly: every offset of every answer rebuilds its text from the raw file."""

from __future__ import annotations

from pathlib import Path

import pytest
import threadpoolctl

from jbqa.answerer import MAX_QUESTION_CHARS, Answer, Answerer, AskResult, QuestionError
from jbqa.answerer.answerer import WARM_UP_QUESTION, with_qualifier
from jbqa.answerer.features import question_terms
from jbqa.answerer.question import NOT_A_QUESTION_HINT, has_content_word
from jbqa.eval.metrics import GoldItem
from jbqa.eval.run import DEFAULT_GOLD, load_gold
from jbqa.index.store import LoadedIndex, build_index
from jbqa.ingest.clean import clean_text

GOLD = load_gold(DEFAULT_GOLD)


@pytest.fixture(scope="module")
def gold_results(answerer: Answerer) -> list[tuple[GoldItem, AskResult]]:
    return [(item, answerer.ask(item.question, top=3)) for item in GOLD]


def line_of(raw: str, offset: int) -> int:
    return raw.count("\n", 0, offset) + 1


def check_answer(answer: Answer, index: LoadedIndex) -> None:
    raw = index.sources[answer.source]
    assert 0 <= answer.char_start < answer.char_end <= len(raw)
    assert clean_text(raw[answer.char_start : answer.char_end]) == answer.quote

    assert answer.line_start == line_of(raw, answer.char_start)
    assert answer.line_end == line_of(raw, answer.char_end - 1)
    lines = "\n".join(raw.split("\n")[answer.line_start - 1 : answer.line_end])
    assert raw[answer.char_start : answer.char_end] in lines

    passage = next(p for p in index.passages if p.id == answer.passage_id)
    assert passage.source == answer.source
    assert passage.char_start <= answer.char_start and answer.char_end <= passage.char_end
    assert answer.quote in passage.text

    assert answer.answer, "every answer given marks its span"
    assert answer.answer_start is not None and answer.answer_end is not None
    assert answer.quote[answer.answer_start : answer.answer_end] == answer.answer
    assert answer.answer_char_start is not None and answer.answer_char_end is not None
    assert answer.char_start <= answer.answer_char_start < answer.answer_char_end <= answer.char_end
    assert clean_text(raw[answer.answer_char_start : answer.answer_char_end]) == answer.answer


def test_every_answer_to_every_gold_question_quotes_its_raw_span(
    gold_results: list[tuple[GoldItem, AskResult]], e5_index: LoadedIndex
) -> None:
    checked = 0
    for item, result in gold_results:
        assert result.question == item.question
        assert len(result.answers) <= 3
        if result.abstained:
            assert result.answers == []
        for answer in result.answers:
            check_answer(answer, e5_index)
            checked += 1
    assert checked >= 150  # at least one quote per answered question, and runners-up


def test_answers_are_distinct_quotes_in_score_order(gold_results: list[tuple[GoldItem, AskResult]]) -> None:
    for _, result in gold_results:
        quotes = [a.quote for a in result.answers]
        assert len(quotes) == len(set(quotes))
        if result.answers:
            assert result.answers[0].score == max(a.score for a in result.answers)


def test_most_answerable_gold_questions_are_answered(gold_results: list[tuple[GoldItem, AskResult]]) -> None:
    answerable = [(item, r) for item, r in gold_results if item.answerable]
    answered = [r for _, r in answerable if not r.abstained]
    assert len(answered) >= 0.9 * len(answerable)


def test_unanswerable_gold_questions_are_often_refused(gold_results: list[tuple[GoldItem, AskResult]]) -> None:
    """The gold unanswerables are near misses (a real topic, a fact the documents do not give): the
    learned abstain model refuses fewer of them than questions on missing topics (model card)."""
    unanswerable = [(item, r) for item, r in gold_results if not item.answerable]
    assert len(unanswerable) >= 8
    abstained = [item.id for item, r in unanswerable if r.abstained]
    assert len(abstained) >= 0.4 * len(unanswerable), (
        f"abstained on {len(abstained)} of {len(unanswerable)}: "
        + ", ".join(f"{item.id} {item.question}" for item, r in unanswerable if not r.abstained)
    )


def test_a_question_about_something_else_abstains(answerer: Answerer) -> None:
    result = answerer.ask("量子引力的弦论怎么证明")
    assert result.abstained
    assert result.answers == []
    assert not result.conflicting


def test_a_question_of_stopwords_only_abstains(answerer: Answerer) -> None:
    result = answerer.ask("这是什么？")
    assert result.abstained
    assert result.answers == []


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "　"])
def test_empty_questions_are_refused(answerer: Answerer, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        answerer.ask(question)


def test_an_oversized_question_is_refused_with_its_length(answerer: Answerer) -> None:
    with pytest.raises(QuestionError, match=str(MAX_QUESTION_CHARS + 1)):
        answerer.ask("江" * (MAX_QUESTION_CHARS + 1))


def test_a_question_of_the_maximum_length_is_accepted(answerer: Answerer) -> None:
    question = ("江北区金融机构有多少家" * 50)[:MAX_QUESTION_CHARS]
    assert isinstance(answerer.ask(question), AskResult)


def test_a_question_that_is_not_text_is_refused(answerer: Answerer) -> None:
    with pytest.raises(QuestionError):
        answerer.ask(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("top", [0, -1, 21, 100])
def test_top_outside_its_range_is_refused(answerer: Answerer, top: int) -> None:
    with pytest.raises(ValueError, match="top"):
        answerer.ask("江北区金融机构有多少家", top=top)


@pytest.mark.parametrize("top", [1, 20])
def test_top_limits_the_number_of_answers(answerer: Answerer, top: int) -> None:
    result = answerer.ask("江北区金融机构有多少家", top=top)
    assert 1 <= len(result.answers) <= top


def test_a_traditional_question_finds_the_same_source(answerer: Answerer) -> None:
    simplified = answerer.ask("江北区金融机构有多少家")
    traditional = answerer.ask("江北區金融機構有多少家")
    assert not traditional.abstained
    assert traditional.answers[0].source == simplified.answers[0].source
    assert traditional.answers[0].quote == simplified.answers[0].quote
    assert traditional.question == "江北區金融機構有多少家"


def test_conflicting_figures_from_several_sources_are_shown_side_by_side(answerer: Answerer) -> None:
    result = answerer.ask("江北区金融机构有多少家")
    assert not result.abstained
    figures = {(a.source, a.answer) for a in result.answers if a.answer}
    assert len({source for source, _ in figures}) >= 2
    assert len({figure for _, figure in figures}) >= 2
    assert any("480" in (a.answer or "") for a in result.answers)
    assert result.conflicting is True


def test_a_single_figure_question_is_not_conflicting(answerer: Answerer) -> None:
    result = answerer.ask("小米消费金融啥时候在江北挂牌开业")
    assert not result.abstained
    assert result.conflicting is False
    assert "小米" in result.answers[0].quote


def test_the_result_serialises_with_every_field(answerer: Answerer) -> None:
    data = answerer.ask("江北区金融机构有多少家").to_dict()
    assert set(data) == {"question", "abstained", "embedder", "answers", "conflicting", "conflict", "confidence",
                         "confidence_band", "answered_question", "suggestions", "hint"}
    assert data["embedder"] == answerer.index.embedder_label
    assert set(data["answers"][0]) >= {
        "quote",
        "answer",
        "answer_start",
        "answer_end",
        "source",
        "line_start",
        "line_end",
        "char_start",
        "char_end",
        "answer_char_start",
        "answer_char_end",
        "score",
        "passage_id",
    }


def test_asking_twice_gives_the_same_result(answerer: Answerer) -> None:
    assert answerer.ask("塔坪小区改造工程什么时候启动") == answerer.ask("塔坪小区改造工程什么时候启动")


@pytest.mark.parametrize(
    ("quote", "span", "expected"),
    [
        ("全市共集聚机构超480家，涵盖多种门类。", (8, 12), "超480家"),
        ("截至去年，近480家机构聚集于此。", (6, 10), "近480家"),
        ("机构数量约为三千家。", (6, 9), "三千家"),
        ("园区共有企业120家。", (6, 10), "120家"),  # 共有企业 is not a qualifier of the figure
    ],
)
def test_a_figure_keeps_the_word_that_qualifies_it(quote: str, span: tuple[int, int], expected: str) -> None:
    start, end = with_qualifier(quote, span)
    assert quote[start:end] == expected


@pytest.mark.parametrize("question", ["江北区金融机构有多少家", "江北区2023年地区生产总值是多少", "江北嘴江滩公园岸线多长"])
def test_the_first_answer_does_not_depend_on_how_many_are_asked_for(answerer: Answerer, question: str) -> None:
    first = [answerer.ask(question, top=top).answers[:1] for top in (1, 3, 5)]
    assert first[0] == first[1] == first[2]


def test_a_file_without_full_stops_is_answered_with_the_line_that_holds_the_figure(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [f"江北区第{i}项经济指标为{7 * i}亿元，同比增长{i % 9 + 1}个百分点" for i in range(1, 301)]
    (corpus / "records.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = build_index(corpus, tmp_path / "index", "offline")
    result = Answerer(index).ask("江北区第17项经济指标为多少")
    assert not result.abstained
    best = result.answers[0]
    assert best.quote == lines[16]  # the line itself, not the whole file
    assert best.answer == "119亿元"
    check_answer(best, index)


@pytest.mark.parametrize("question", ["a", "A", "one", "a+", "区", "谁", "是吗", "what is it?"])
def test_a_question_with_no_chinese_content_word_is_refused_with_the_hint(
    offline_index: LoadedIndex, question: str
) -> None:
    result = Answerer(offline_index).ask(question)
    assert result.abstained and result.answers == [] and result.confidence == 0.0
    assert result.hint == NOT_A_QUESTION_HINT
    assert result.to_dict()["hint"] == NOT_A_QUESTION_HINT


@pytest.mark.parametrize("question", ["江北区有几所大学", "什么是GDP", "2023年江北区生产总值是多少"])
def test_a_chinese_question_gets_no_hint(offline_index: LoadedIndex, question: str) -> None:
    assert has_content_word(question)
    assert Answerer(offline_index).ask(question).hint is None


def test_the_warm_up_question_reaches_retrieval_and_the_readers(answerer: Answerer) -> None:
    """A question without words to look for is refused before the embedder and the readers run; the
    warm-up question must not be one, or the first visitor's question would load them."""
    assert has_content_word(WARM_UP_QUESTION)
    assert question_terms(WARM_UP_QUESTION, answerer.terms).terms


def test_an_answerer_leaves_blas_on_one_thread(answerer: Answerer) -> None:
    """Idle BLAS workers spin after each call and would take a core from the embedder's threads."""
    blas = [pool for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "numpy loads a BLAS library"
    assert {pool["num_threads"] for pool in blas} == {1}
