"""Answer-span candidates and their feature rows."""

from __future__ import annotations

from jbqa.answerer.features import question_terms
from jbqa.answerer.span_features import (
    MAX_CLAUSE_RUN_CHARS,
    MAX_SPAN_CHARS,
    MAX_SPAN_WORDS,
    SPAN_FEATURES,
    span_candidates,
    span_matrix,
)
from jbqa.answerer.terms import TermStats
from jbqa.index.words import POS, cut_words

SENTENCE = "新的体育馆于2019年5月开工，命名为“江风馆”。随后建成投用。"
STATS = TermStats([SENTENCE])


def test_candidates_start_and_end_on_words_inside_one_sentence() -> None:
    words = cut_words(SENTENCE)
    spans = span_candidates(words)
    assert spans
    first_end = SENTENCE.index("。")
    for span in spans:
        text = SENTENCE[span.start : span.end]
        assert text and text[0] not in "，。“”" and text[-1] not in "，。“”"
        assert len(text) <= MAX_SPAN_CHARS
        assert not (span.start < first_end < span.end), text  # never across the sentence end
        assert words.bounds[span.first] == span.start and words.bounds[span.last + 1] == span.end
    texts = {SENTENCE[s.start : s.end] for s in spans}
    assert "2019年5月" in texts or "2019年" in texts
    for span in spans:  # never from a particle, never up to a preposition, conjunction or particle
        assert words.pos[span.first] != POS["u"], SENTENCE[span.start : span.end]
        assert words.pos[span.last] not in (POS["u"], POS["p"], POS["c"]), SENTENCE[span.start : span.end]
    assert not any(SENTENCE[s.start : s.end].endswith("于") for s in spans)


# Two long clauses (a reason, then a consequence) after a lead-in; then a second sentence.
LONG = ("据当地的研究人员介绍：由于上游的水库在雨季集中放水并且河道多年没有得到系统的清理和拓宽，"
        "下游沿岸的低洼村庄和大片农田在每年夏天的汛期都会被反复淹没好几次。此后开始治理。")


def test_runs_of_whole_clauses_may_be_longer() -> None:
    words = cut_words(LONG)
    texts = {LONG[s.start : s.end] for s in span_candidates(words)}
    reason, _, consequence = LONG[LONG.index("由于") : LONG.index("。")].partition("，")
    assert len(reason) > MAX_SPAN_CHARS // 2 and len(reason + "，" + consequence) > MAX_SPAN_CHARS
    assert reason in texts and consequence in texts and reason + "，" + consequence in texts
    long_ones = [t for t in texts if len(t) > MAX_SPAN_CHARS or len(cut_words(t)) > MAX_SPAN_WORDS]
    assert long_ones
    for text in long_ones:  # whole clauses: from a clause's start to a clause's end, in one sentence
        start = LONG.index(text)
        assert start == 0 or LONG[start - 1] in "，：", text
        assert LONG[start + len(text)] in "，。", text
        assert "。" not in text and len(text) <= MAX_CLAUSE_RUN_CHARS
    assert reason[2:] not in texts  # a long run from inside a clause is not a candidate
    assert (reason + "，" + consequence)[:-2] not in texts  # nor one that stops inside one


def test_every_span_gets_a_row_of_named_features() -> None:
    words = cut_words(SENTENCE)
    spans = span_candidates(words)
    q = question_terms("体育馆命名为什么", STATS)
    rows = span_matrix(q, words, spans)
    assert rows.shape == (len(spans), len(SPAN_FEATURES))
    column = {name: i for i, name in enumerate(SPAN_FEATURES)}
    by_text = {SENTENCE[s.start : s.end]: rows[i] for i, s in enumerate(spans)}
    quoted = by_text["江风馆"]
    assert quoted[column["quoted"]] == 1.0
    assert quoted[column["left_word_before"]] == 1.0  # 命名为 stands just before it
    assert by_text["体育馆"][column["overlaps_question_word"]] == 1.0
    digits = [text for text in by_text if any(ch.isdigit() for ch in text)]
    assert digits and all(by_text[text][column["has_digit"]] == 1.0 for text in digits)
    assert all(by_text[text][column["has_digit"]] == 0.0 for text in by_text if text not in digits)


def test_spans_of_the_asked_kind_are_marked() -> None:
    words = cut_words(SENTENCE)
    spans = span_candidates(words)
    column = {name: i for i, name in enumerate(SPAN_FEATURES)}
    when = span_matrix(question_terms("体育馆什么时候开工", STATS), words, spans)
    by_text = {SENTENCE[s.start : s.end]: when[i] for i, s in enumerate(spans)}
    assert by_text["2019年5月"][column["expected_words"]] >= 1 and by_text["2019年5月"][column["span_t"]] == 0
    assert by_text["江风馆"][column["expected_words"]] == 0
    which = span_matrix(question_terms("体育馆命名为哪个馆", STATS), words, spans)
    by_text = {SENTENCE[s.start : s.end]: which[i] for i, s in enumerate(spans)}
    assert by_text["江风馆"][column["head_suffix"]] == 1.0  # 哪个馆: ends like 馆
    assert by_text["2019年5月"][column["head_suffix"]] == 0.0
