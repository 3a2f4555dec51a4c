"""Named features of a candidate sentence for the learned sentence ranker and the abstain model.

Every feature is general: lexical and soft coverage of the question, retrieval ranks and scores,
answer-type fit, position and length. Nothing here knows any particular corpus.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import jieba

from jbqa.answerer.qwords import QuestionWord, find_question_word
from jbqa.answerer.terms import TermStats
from jbqa.index.tokenize import STOPWORDS
from jbqa.ingest.normalize import normalize_chars

_WORDISH = re.compile(r"[\w\u4e00-\u9fff]")
_CJK_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")
_MEASURE = re.compile(r"(?:多少|几)(个月|个小时|[家个项所名座条户人位次倍元米年天月届期批类种款场辆万亿])")
_FIGURE = re.compile(r"\d+(?:\.\d+)?")
_FIGURE_WITH_UNIT = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|[万亿千百]|[个家项所名座条户人位次倍元米年天种类场])")
_QUOTED_NAME = re.compile(r"[“《「『\"]")

# What each question-word category expects to see in an answering sentence.
TYPE_CUES: dict[str, re.Pattern[str]] = {
    "when": re.compile(r"\d{2,4}年|\d{1,2}月|\d{1,2}日|[一二三四五六七八九十]{1,3}月|世纪|年代|朝|时期|[春夏秋冬]季|季度|今年|去年"),
    "howmany": _FIGURE_WITH_UNIT,
    "howlong": _FIGURE_WITH_UNIT,
    "where": re.compile(r"[省市县区镇乡村州国洲岛山河江湖海港路街]"),
    "who": re.compile(r"[·•]|先生|女士|教授|博士|主席|总统|国王|皇帝"),
    "why": re.compile(r"因为|由于|所以|因此|为了|以便|导致|原因|以致|从而"),
    "how": re.compile(r"通过|采用|利用|用|以|经过|方式|方法"),
    "what": _QUOTED_NAME,
    "which": _QUOTED_NAME,
}


@dataclass(frozen=True)
class QuestionTerms:
    """A question as the reader sees it: its question word and its weighted content words."""

    text: str
    normalized: str
    qword: QuestionWord
    terms: tuple[str, ...]  # normalised content words
    weights: tuple[float, ...]  # their idf in the corpus
    pairs: tuple[str, ...]  # CJK character pairs of the question outside the question word
    left: str | None  # the content word just before the question word
    right: str | None  # the content word just after it
    unseen_share: float  # idf-weighted share of the content words that the corpus never writes
    measure_word: str | None  # the measure word after 多少/几 (多少家 -> 家)
    figures: tuple[str, ...]  # numbers the question names (years, amounts)

    @property
    def total_weight(self) -> float:
        return sum(self.weights)


def question_terms(text: str, stats: TermStats) -> QuestionTerms:
    normalized = normalize_chars(text.strip())
    qword = find_question_word(normalized)
    words: list[tuple[str, int]] = []
    position = 0
    for tok in jieba.lcut(normalized):
        start, position = position, position + len(tok)
        tok = tok.strip()
        if not tok or tok in STOPWORDS or not _WORDISH.search(tok):
            continue
        if qword.start <= start < qword.end:
            continue
        words.append((tok, start))
    seen: dict[str, float] = {}
    unseen = 0.0
    for tok, _ in words:
        if tok in seen:
            continue
        weight = stats.idf(tok) * (0.5 if len(tok) == 1 else 1.0)
        if len(tok) == 1 and stats.unseen(tok):
            continue
        seen[tok] = weight
        if stats.unseen(tok):
            unseen += weight
    total = sum(seen.values())
    masked = normalized[: max(qword.start, 0)] + " " * (qword.end - qword.start) + normalized[max(qword.end, 0) :]
    pairs = tuple(dict.fromkeys(p for p in _CJK_PAIR.findall(masked) if p not in STOPWORDS))
    before = [t for t, s in words if qword.start >= 0 and s < qword.start]
    after = [t for t, s in words if qword.start >= 0 and s >= qword.end]
    measure = _MEASURE.search(normalized)
    return QuestionTerms(
        text=text,
        normalized=normalized,
        qword=qword,
        terms=tuple(seen),
        weights=tuple(seen.values()),
        pairs=pairs,
        left=before[-1] if before else None,
        right=after[0] if after else None,
        unseen_share=unseen / total if total else 0.0,
        measure_word=measure.group(1) if measure else None,
        figures=tuple(_FIGURE.findall(normalized)),
    )


def term_credit(term: str, haystack: str) -> float:
    """1 for the term in the text; partial credit when most of a long term's character pairs are there."""
    if term in haystack:
        return 1.0
    if len(term) >= 3:
        pairs = [term[i : i + 2] for i in range(len(term) - 1)]
        found = sum(1 for p in pairs if p in haystack) / len(pairs)
        return 0.6 * found if found >= 0.5 else 0.0
    return 0.0


def coverage(q: QuestionTerms, text: str) -> float:
    """idf-weighted share of the question's content words found in `text` (normalised)."""
    total = q.total_weight
    if total <= 0:
        return 0.0
    return sum(w * term_credit(t, text) for t, w in zip(q.terms, q.weights, strict=True)) / total


def pair_coverage(q: QuestionTerms, text: str) -> float:
    if not q.pairs:
        return 0.0
    return sum(1 for p in q.pairs if p in text) / len(q.pairs)


def missing_weight(q: QuestionTerms, text: str) -> float:
    """The largest idf among content words absent from `text`."""
    return max((w for t, w in zip(q.terms, q.weights, strict=True) if t not in text), default=0.0)


def compactness(q: QuestionTerms, text: str) -> float:
    """How tightly the matched question words sit together in `text` (1 = side by side)."""
    spots = [(text.find(t), len(t)) for t in q.terms if len(t) > 1 and t in text]
    if len(spots) < 2:
        return 1.0 if spots else 0.0
    width = max(s + n for s, n in spots) - min(s for s, _ in spots)
    return min(1.0, sum(n for _, n in spots) / max(width, 1))


def type_fit(q: QuestionTerms, text: str) -> float:
    cue = TYPE_CUES.get(q.qword.category)
    if cue is None:
        return 0.5
    return 1.0 if cue.search(text) else 0.0


def measure_match(q: QuestionTerms, text: str) -> float:
    """A figure in the text carries the measure word the question asks with (多少家 -> 480家)."""
    if not q.measure_word:
        return 0.5
    return 1.0 if re.search(r"[\d零一二三四五六七八九十百千万两]\s*(?:余|多)?" + re.escape(q.measure_word), text) else 0.0


def figures_missing(q: QuestionTerms, text: str) -> float:
    """Share of the question's figures (a year, an amount) that the text does not contain."""
    if not q.figures:
        return 0.0
    return sum(1 for f in q.figures if f not in text) / len(q.figures)


def context_match(q: QuestionTerms, text: str) -> float:
    """The words around the question word stand in the text too (X是什么 / X是…)."""
    found = [w for w in (q.left, q.right) if w]
    if not found:
        return 0.0
    return sum(1 for w in found if w in text) / len(found)


@dataclass(frozen=True)
class SentenceContext:
    """A candidate sentence with what surrounds it (all texts normalised)."""

    text: str
    previous: str
    following: str
    document_title: str
    position: int  # sentence number in its document, from 0
    bm25_rank: int | None  # the passage's rank in either list, from 1
    dense_rank: int | None
    fused_rank: int  # the passage's rank after fusion, from 1
    bm25_score: float  # passage BM25 score over the best BM25 score of the question
    dense_score: float  # passage cosine similarity
    soft: float  # soft coverage from word knowledge (0 when none is available)


def _log_rank(rank: int | None) -> float:
    return math.log1p(rank) if rank is not None else math.log1p(100)


SentenceFeature = Callable[[QuestionTerms, SentenceContext], float]

# Name -> function; the order is the model's column order.
SENTENCE_FEATURES: dict[str, SentenceFeature] = {
    "coverage": lambda q, c: coverage(q, c.text),
    "coverage_window": lambda q, c: coverage(q, c.previous + "\n" + c.text + "\n" + c.following),
    "coverage_previous": lambda q, c: coverage(q, c.previous),
    "coverage_following": lambda q, c: coverage(q, c.following),
    "coverage_title": lambda q, c: coverage(q, c.document_title),
    "pair_coverage": lambda q, c: pair_coverage(q, c.text),
    "pair_coverage_window": lambda q, c: pair_coverage(q, c.previous + c.text + c.following),
    "soft_coverage": lambda q, c: c.soft,
    "missing_weight": lambda q, c: missing_weight(q, c.text),
    "compactness": lambda q, c: compactness(q, c.text),
    "type_fit": lambda q, c: type_fit(q, c.text),
    "context_match": lambda q, c: context_match(q, c.text),
    "measure_match": lambda q, c: measure_match(q, c.text),
    "figures_missing_window": lambda q, c: figures_missing(q, c.previous + c.text + c.following),
    "question_word": lambda q, c: float(q.qword.index),
    "question_terms": lambda q, c: float(len(q.terms)),
    "unseen_share": lambda q, c: q.unseen_share,
    "sentence_chars": lambda q, c: math.log1p(len(c.text)),
    "position": lambda q, c: math.log1p(c.position),
    "bm25_rank": lambda q, c: _log_rank(c.bm25_rank),
    "dense_rank": lambda q, c: _log_rank(c.dense_rank),
    "fused_rank": lambda q, c: _log_rank(c.fused_rank),
    "bm25_score": lambda q, c: c.bm25_score,
    "dense_score": lambda q, c: c.dense_score,
}
CATEGORICAL_SENTENCE_FEATURES = ("question_word",)


def sentence_features(q: QuestionTerms, c: SentenceContext) -> list[float]:
    return [f(q, c) for f in SENTENCE_FEATURES.values()]
