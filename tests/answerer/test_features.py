"""Question words, question terms and the named sentence features of the learned ranker."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from jbqa.answerer.candidates import CorpusView, gather
from jbqa.answerer.features import (
    SENTENCE_FEATURES,
    SentenceAnalysis,
    SentenceContext,
    context_match,
    figures_missing,
    measure_match,
    question_terms,
    sentence_matrix,
)
from jbqa.answerer.qwords import CATEGORIES, find_question_word
from jbqa.answerer.terms import TermStats
from jbqa.index.lexicon import Lexicon
from jbqa.index.store import LoadedIndex
from jbqa.index.words import cut_words

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
    rows = sentence_matrix(q, [_context(PASSAGES[1]), _context(PASSAGES[2]), _context("体育馆开工。")], None)
    coverage = rows[:, SENTENCE_FEATURES.index("coverage")]
    assert coverage[0] == pytest.approx(1.0)
    assert coverage[1] == 0.0
    assert 0 < coverage[2] < 1


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


def _context(text: str, previous: str = "", following: str = "", lexicon: Lexicon | None = None,
             source: str = "a.txt", bm25_score: float = 1.0) -> SentenceContext:
    analysis = SentenceAnalysis.of(cut_words(text), lexicon)
    return SentenceContext(
        text, previous, following, "", 1, 1, 2, 1, bm25_score, 0.5, analysis,
        SentenceAnalysis.of(cut_words(previous), lexicon) if previous else None,
        SentenceAnalysis.of(cut_words(following), lexicon) if following else None, source,
    )


def test_the_sentence_matrix_has_one_row_per_candidate_and_one_column_per_named_feature() -> None:
    q = question_terms("体育馆什么时候建成", STATS)
    contexts = [_context(PASSAGES[1], following=PASSAGES[2]), _context("图书馆位于城市东部。", bm25_score=0.4, source="b.txt")]
    rows = sentence_matrix(q, contexts, None)
    assert rows.shape == (2, len(SENTENCE_FEATURES)) and rows.dtype == "float32"
    built, other = (dict(zip(SENTENCE_FEATURES, row, strict=True)) for row in rows)
    assert built["coverage"] == pytest.approx(1.0) and other["coverage"] == 0.0
    assert built["type_fit"] == 1.0  # a date is there
    assert built["type_entity"] == 1.0 and other["type_entity"] == 0.0  # only the first names a time or figure
    assert built["bm25_score"] == 1.0 and other["bm25_score"] == pytest.approx(0.4)
    assert built["coverage_vs_best"] == 0.0 and other["coverage_vs_best"] == pytest.approx(-1.0)
    assert other["coverage_window_vs_document_best"] == 0.0  # the best of its own document
    assert built["coverage_following"] == 0.0


def test_soft_coverage_credits_words_of_like_meaning() -> None:
    lexicon = Lexicon(["建成", "竣工", "图书"], np.array([[1, 0], [0.96, 0.28], [0, 1]], np.float32))
    q = question_terms("体育馆什么时候建成", STATS)
    said_otherwise = _context("新的体育馆于2021年竣工。", lexicon=lexicon)
    unrelated = _context("新的体育馆有图书。", lexicon=lexicon)
    rows = sentence_matrix(q, [said_otherwise, unrelated], lexicon)
    column = SENTENCE_FEATURES.index("soft_coverage")
    assert rows[0, column] > rows[1, column]
    assert rows[0, SENTENCE_FEATURES.index("coverage")] == rows[1, SENTENCE_FEATURES.index("coverage")]
    assert sentence_matrix(q, [said_otherwise], None)[0, column] == rows[0, SENTENCE_FEATURES.index("coverage")]


def test_clause_and_proximity_weights_favour_the_words_near_the_question_word() -> None:
    q = question_terms("新的体育馆开工以后，图书馆什么时候建成", STATS)
    near = dict(zip(q.terms, q.proximity_weights, strict=True))
    clause = dict(zip(q.terms, q.clause_weights, strict=True))
    assert clause["图书馆"] > 0 and clause["开工"] == 0.0
    assert near["图书馆"] > near["开工"]


def test_meaning_features_compare_each_candidate_with_the_best_and_stay_missing_without_vectors() -> None:
    q = question_terms("体育馆什么时候建成", STATS)
    close = dataclasses.replace(_context(PASSAGES[1]), meaning=0.9, meaning_window=0.8)
    far = dataclasses.replace(_context(PASSAGES[2], source="b.txt"), meaning=0.6, meaning_window=0.7)
    rows = [dict(zip(SENTENCE_FEATURES, row, strict=True)) for row in sentence_matrix(q, [close, far], None)]
    assert rows[0]["meaning"] == pytest.approx(0.9) and rows[1]["meaning_window"] == pytest.approx(0.7)
    assert rows[0]["meaning_vs_best"] == 0.0 and rows[1]["meaning_vs_best"] == pytest.approx(-0.3)
    assert rows[1]["meaning_window_vs_best"] == pytest.approx(-0.1)
    unknown = sentence_matrix(q, [_context(PASSAGES[1])], None)[0]  # an index without sentence vectors
    assert np.isnan(unknown[[SENTENCE_FEATURES.index(f) for f in ("meaning", "meaning_vs_best")]]).all()


def test_a_candidate_knows_its_similarity_to_the_question(e5_index: LoadedIndex) -> None:
    index = e5_index
    view = CorpusView(index)
    q = question_terms("江北区金融机构有多少家", TermStats(view.normalized))
    candidates = gather(view, q)
    vector = index.embedder.encode_queries([q.text])[0]
    c = candidates[0]
    row = int(sum(len(p.sentences) for p in index.passages[: c.passage_index]) + c.sentence_index)
    assert c.context.meaning == pytest.approx(float(index.sentence_vectors[row] @ vector), abs=1e-5)
    assert -1.0 <= c.context.meaning_window <= 1.0
