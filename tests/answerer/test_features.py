"""Question words, question terms and the named sentence features of the learned ranker."""

from __future__ import annotations

import pytest

from jbqa.answerer.features import (
    SENTENCE_FEATURES,
    SentenceContext,
    context_match,
    coverage,
    figures_missing,
    measure_match,
    question_terms,
    sentence_features,
)
from jbqa.answerer.qwords import CATEGORIES, find_question_word
from jbqa.answerer.terms import TermStats

PASSAGES = [
    "该市共有博物馆12座，其中国家一级博物馆3座。",
    "新的体育馆于2019年5月开工，2021年建成投用。",
    "图书馆位于城市东部，藏书超过200万册。",
]
STATS = TermStats(PASSAGES)


@pytest.mark.parametrize(
    ("question", "category"),
    [
        ("体育馆为什么要建在东部", "why"),
        ("体育馆什么时候建成", "when"),
        ("该市有多少座博物馆", "howmany"),
        ("图书馆在哪里", "where"),
        ("谁设计了图书馆", "who"),
        ("图书馆藏书是什么类型", "what"),
        ("图书馆", "other"),
    ],
)
def test_question_word_categories(question: str, category: str) -> None:
    found = find_question_word(question)
    assert found.category == category
    assert found.index == CATEGORIES.index(category)


def test_question_terms_leave_out_the_question_word_and_keep_its_neighbours() -> None:
    q = question_terms("体育馆什么时候建成", STATS)
    assert q.qword.category == "when"
    assert "体育馆" in q.terms and "建成" in q.terms
    assert not any("什么" in t or "时候" in t for t in q.terms)
    assert q.left == "体育馆" and q.right == "建成"
    assert len(q.weights) == len(q.terms) and all(w > 0 for w in q.weights)


def test_traditional_questions_are_normalised() -> None:
    q = question_terms("體育館什麼時候建成", STATS)
    assert "体育馆" in q.terms


def test_words_the_corpus_never_writes_count_as_unseen() -> None:
    assert question_terms("体育馆的门票价格", STATS).unseen_share > 0
    assert question_terms("体育馆建成", STATS).unseen_share == 0


def test_coverage_weighs_the_words_found() -> None:
    q = question_terms("体育馆什么时候建成", STATS)
    assert coverage(q, PASSAGES[1]) == pytest.approx(1.0)
    assert coverage(q, PASSAGES[2]) == 0.0
    assert 0 < coverage(q, "体育馆开工") < 1


def test_measure_word_and_figure_features() -> None:
    q = question_terms("该市有多少座博物馆", STATS)
    assert q.measure_word == "座"
    assert measure_match(q, PASSAGES[0]) == 1.0
    assert measure_match(q, PASSAGES[2]) == 0.0
    dated = question_terms("2019年体育馆开工了吗", STATS)
    assert dated.figures == ("2019",)
    assert figures_missing(dated, PASSAGES[1]) == 0.0
    assert figures_missing(dated, PASSAGES[0]) == 1.0


def test_context_match_finds_the_words_around_the_question_word() -> None:
    q = question_terms("体育馆什么时候建成", STATS)
    assert context_match(q, PASSAGES[1]) == 1.0
    assert context_match(q, PASSAGES[0]) == 0.0


def test_sentence_features_are_one_number_per_named_feature() -> None:
    q = question_terms("体育馆什么时候建成", STATS)
    context = SentenceContext(PASSAGES[1], "", PASSAGES[2], PASSAGES[0], 1, 1, 2, 1, 1.0, 0.5, 0.0)
    row = sentence_features(q, context)
    assert len(row) == len(SENTENCE_FEATURES)
    named = dict(zip(SENTENCE_FEATURES, row, strict=True))
    assert named["coverage"] == pytest.approx(1.0)
    assert named["type_fit"] == 1.0  # a date is there
    assert named["bm25_score"] == 1.0
