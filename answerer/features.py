"""Named features of candidate sentences for the learned sentence ranker and the abstain model.

Every feature is general: lexical and soft (word-knowledge) coverage of the question, in the
sentence, its neighbours and its document's title; which kinds of names and figures the sentence
holds against the kind of answer asked for; retrieval ranks and scores; position and length; and
how each candidate compares with the best of its question's candidates. Nothing here knows any
particular corpus. `sentence_matrix` computes all candidates of one question at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import jieba
import numpy as np

from jbqa.answerer.answer_kinds import asked_kind
from jbqa.answerer.qwords import QuestionWord, find_question_word
from jbqa.answerer.terms import TermStats
from jbqa.index.lexicon import Lexicon
from jbqa.index.tokenize import STOPWORDS
from jbqa.index.words import POS, Words
from jbqa.ingest.normalize import normalize_chars

_WORDISH = re.compile(r"[\w\u4e00-\u9fff]")
_CJK_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")
_CLAUSE_MARK = re.compile(r"[，,；;：:。！？!?]")
_MEASURE = re.compile(r"(?:多少|几)(个月|个小时|[家个项所名座条户人位次倍元米年天月届期批类种款场辆万亿])")
_FIGURE = re.compile(r"\d+(?:\.\d+)?")
_FIGURE_WITH_UNIT = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|[万亿千百]|[个家项所名座条户人位次倍元米年天种类场])")
_QUOTED_NAME = re.compile(r"[“《「『\"]")
_DATE = re.compile(r"\d{1,4}年|\d{1,2}月|\d{1,2}日|世纪|年代")
# A sentence that opens with a pronoun or a linking word continues the one before it.
_REFERS_BACK = re.compile(r"^(?:这|那|该|其|此|他|她|它|上述|以上|同时|此外|另外|但|而|因此|所以|后来|之后|随后|不过|然而)")

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
# Parts of speech of the words that count as names and figures, and which of them each kind of
# question expects in its answer.
ENTITY_POS = ("nr", "ns", "nt", "nz", "m", "t", "eng")
EXPECTED_POS: dict[str, tuple[str, ...]] = {
    "who": ("nr",),
    "where": ("ns",),
    "when": ("t", "m"),
    "howmany": ("m",),
    "howlong": ("m", "t"),
    "which": ("nz", "nt", "ns", "nr"),
    "what": ("nz", "nt"),
}


@dataclass(frozen=True)
class QuestionTerms:
    """A question as the reader sees it: its question word and its weighted content words."""

    text: str
    normalized: str
    qword: QuestionWord
    terms: tuple[str, ...]  # normalised content words
    weights: tuple[float, ...]  # their idf in the corpus
    clause_weights: tuple[float, ...]  # the same, for the terms of the question word's clause only (else 0)
    proximity_weights: tuple[float, ...]  # the same, falling off with distance from the question word
    pairs: tuple[str, ...]  # CJK character pairs of the question outside the question word
    left: str | None  # the content word just before the question word
    right: str | None  # the content word just after it
    unseen_share: float  # idf-weighted share of the content words that the corpus never writes
    unseen_weight: float  # the weight of a word the corpus never writes (the largest there is)
    measure_word: str | None  # the measure word after 多少/几 (多少家 -> 家)
    figures: tuple[str, ...]  # numbers the question names (years, amounts)
    answer_kind: str | None  # the kind of answer it asks for (`answer_kinds.asked_kind`: money, a count ...)


def _clause_around(normalized: str, qword: QuestionWord) -> tuple[int, int]:
    """Bounds of the clause (between punctuation) that holds the question word; all when none."""
    if qword.start < 0:
        return 0, len(normalized)
    marks = [m.start() for m in _CLAUSE_MARK.finditer(normalized)]
    start = max((m for m in marks if m < qword.start), default=-1) + 1
    end = min((m for m in marks if m >= qword.end), default=len(normalized))
    return start, end


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
    at: dict[str, int] = {}
    unseen = 0.0
    for tok, start in words:
        if tok in seen:
            continue
        weight = stats.idf(tok) * (0.5 if len(tok) == 1 else 1.0)
        if len(tok) == 1 and stats.unseen(tok):
            continue
        seen[tok], at[tok] = weight, start
        if stats.unseen(tok):
            unseen += weight
    total = sum(seen.values())
    clause_start, clause_end = _clause_around(normalized, qword)
    clause, proximity = [], []
    for tok, weight in seen.items():
        start = at[tok]
        clause.append(weight if clause_start <= start < clause_end else 0.0)
        if qword.start < 0:
            proximity.append(weight / 2)
        else:
            gap = qword.start - (start + len(tok)) if start < qword.start else start - qword.end
            proximity.append(weight / (1 + max(gap, 0) / 4))
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
        clause_weights=tuple(clause),
        proximity_weights=tuple(proximity),
        pairs=pairs,
        left=before[-1] if before else None,
        right=after[0] if after else None,
        unseen_share=unseen / total if total else 0.0,
        unseen_weight=stats.idf_unseen(),
        measure_word=measure.group(1) if measure else None,
        figures=tuple(_FIGURE.findall(normalized)),
        answer_kind=asked_kind(normalized, qword),
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


_ENTITY_KIND = {POS[name]: name for name in ENTITY_POS}


@dataclass(frozen=True)
class SentenceAnalysis:
    """A sentence's words as the features use them, worked out once per sentence."""

    words: Words
    content: tuple[str, ...]  # its words less punctuation and stopwords (what soft matching compares)
    slots: np.ndarray  # those words' slots in the lexicon (empty without one)
    entities: tuple[tuple[str, str], ...]  # (ENTITY_POS kind, word) of its names and figures
    dated: bool  # it writes a date with 年/月/日

    @classmethod
    def of(cls, words: Words, lexicon: Lexicon | None) -> SentenceAnalysis:
        content, entities = [], []
        for i, code in enumerate(words.pos):
            if words.punct[i]:
                continue
            word = words.word(i)
            if word.strip() and word not in STOPWORDS:
                content.append(word)
            if code in _ENTITY_KIND:
                entities.append((_ENTITY_KIND[code], word))
        slots = lexicon.slots(content) if lexicon is not None else np.empty(0, np.intp)
        return cls(words, tuple(content), slots, tuple(entities), bool(_DATE.search(words.text)))

    def entity_counts(self, q: QuestionTerms) -> dict[str, int]:
        """How many words of each name and figure kind (ENTITY_POS) the sentence holds that the
        question does not; a date written with 年/月/日 counts as a time."""
        counts = dict.fromkeys(ENTITY_POS, 0)
        for kind, word in self.entities:
            if word not in q.normalized:
                counts[kind] += 1
        counts["t"] += self.dated
        return counts


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
    analysis: SentenceAnalysis  # of `text`
    previous_analysis: SentenceAnalysis | None = None
    following_analysis: SentenceAnalysis | None = None
    source: str = ""  # the document it comes from
    meaning: float = math.nan  # cosine similarity of question and sentence vectors
    meaning_window: float = math.nan  # the same, for the sentence with its neighbours


def _log_rank(rank: int | None) -> float:
    return math.log1p(rank) if rank is not None else math.log1p(100)


# The ranker's columns, in order.
SENTENCE_FEATURES: tuple[str, ...] = (
    "coverage", "coverage_window", "coverage_previous", "coverage_following", "coverage_title",
    "pair_coverage", "pair_coverage_window",
    "soft_coverage", "soft_coverage_window", "soft_coverage_previous", "soft_coverage_following",
    "clause_coverage", "proximity_coverage",
    "missing_weight", "compactness", "type_fit", "type_entity",
    *(f"entities_{name}" for name in ENTITY_POS),
    "context_match", "measure_match", "figures_missing_window", "refers_back",
    "question_word", "question_terms", "unseen_share", "sentence_chars", "position",
    "bm25_rank", "dense_rank", "fused_rank", "bm25_score", "dense_score",
    "coverage_vs_best", "coverage_window_vs_best", "pair_coverage_vs_best", "soft_coverage_vs_best",
    "proximity_vs_best", "coverage_window_vs_document_best",
    "meaning", "meaning_window", "meaning_vs_best", "meaning_window_vs_best",
)
CATEGORICAL_SENTENCE_FEATURES = ("question_word",)


def _share(matrix: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Weighted share of the columns (question terms) per row; 0 when the weights sum to 0."""
    w = np.asarray(weights, np.float32)
    total = float(w.sum())
    return matrix @ w / total if total > 0 else np.zeros(len(matrix), np.float32)


def _best(values: np.ndarray) -> float:
    """The largest value (NaN when there are none or all are NaN: a missing feature stays missing)."""
    return float(np.nanmax(values)) if len(values) and not np.isnan(values).all() else math.nan


def sentence_matrix(
    q: QuestionTerms, contexts: Sequence[SentenceContext], lexicon: Lexicon | None
) -> np.ndarray:
    """One row of SENTENCE_FEATURES per candidate (float32). Each distinct text (a sentence is
    often another's neighbour) is matched against the question once."""
    n = len(contexts)
    rows: dict[str, int] = {}
    analysis_of: dict[str, SentenceAnalysis | None] = {}

    def row(text: str, analysis: SentenceAnalysis | None) -> int:
        if text not in rows:
            rows[text] = len(rows)
            analysis_of[text] = analysis
        return rows[text]

    own = np.array([row(c.text, c.analysis) for c in contexts], dtype=np.intp)
    previous = np.array([row(c.previous, c.previous_analysis) for c in contexts], dtype=np.intp)
    following = np.array([row(c.following, c.following_analysis) for c in contexts], dtype=np.intp)
    title = np.array([row(c.document_title, None) for c in contexts], dtype=np.intp)
    texts = list(rows)
    n_terms = len(q.terms)
    credit = np.array([[term_credit(t, x) for t in q.terms] for x in texts], np.float32).reshape(len(texts), n_terms)
    pairs = np.array([[p in x for p in q.pairs] for x in texts], np.float32).reshape(len(texts), len(q.pairs))
    if lexicon is not None and n_terms:
        none = np.empty(0, np.intp)
        soft = lexicon.soft_coverage_slots(list(q.terms), [a.slots if (a := analysis_of[x]) else none for x in texts])
        soft = np.maximum(soft, credit)  # a word written in the text is a full match
    else:
        soft = credit
    window = np.maximum(np.maximum(credit[previous], credit[own]), credit[following])
    soft_window = np.maximum(np.maximum(soft[previous], soft[own]), soft[following])
    pair_share = pairs.mean(axis=1) if q.pairs else np.zeros(len(texts), np.float32)

    cov = _share(credit[own], q.weights)
    cov_window = _share(window, q.weights)
    soft_cov = _share(soft[own], q.weights)
    proximity = _share(credit[own], q.proximity_weights)
    pair_cov = pair_share[own]
    weights = np.asarray(q.weights, np.float32)
    missing = np.where(credit[own] < 1.0, weights, 0.0).max(axis=1) if n_terms else np.zeros(n, np.float32)
    document_best: dict[str, float] = {}
    for c, value in zip(contexts, cov_window, strict=True):
        document_best[c.source] = max(document_best.get(c.source, 0.0), float(value))
    expected = EXPECTED_POS.get(q.qword.category)
    counts = [c.analysis.entity_counts(q) for c in contexts]
    meaning = np.array([c.meaning for c in contexts], np.float32)
    meaning_window = np.array([c.meaning_window for c in contexts], np.float32)

    columns: dict[str, np.ndarray | list[float] | float] = {
        "coverage": cov,
        "coverage_window": cov_window,
        "coverage_previous": _share(credit[previous], q.weights),
        "coverage_following": _share(credit[following], q.weights),
        "coverage_title": _share(credit[title], q.weights),
        "pair_coverage": pair_cov,
        "pair_coverage_window": np.maximum(np.maximum(pair_share[previous], pair_cov), pair_share[following]),
        "soft_coverage": soft_cov,
        "soft_coverage_window": _share(soft_window, q.weights),
        "soft_coverage_previous": _share(soft[previous], q.weights),
        "soft_coverage_following": _share(soft[following], q.weights),
        "clause_coverage": _share(credit[own], q.clause_weights),
        "proximity_coverage": proximity,
        "missing_weight": missing / q.unseen_weight,  # a share of the largest, alike in corpora of any size
        "compactness": [compactness(q, c.text) for c in contexts],
        "type_fit": [type_fit(q, c.text) for c in contexts],
        "type_entity": [float(any(k[e] for e in expected)) if expected else 0.5 for k in counts],
        **{f"entities_{name}": [math.log1p(k[name]) for k in counts] for name in ENTITY_POS},
        "context_match": [context_match(q, c.text) for c in contexts],
        "measure_match": [measure_match(q, c.text) for c in contexts],
        "figures_missing_window": [figures_missing(q, c.previous + c.text + c.following) for c in contexts],
        "refers_back": [float(bool(_REFERS_BACK.match(c.text))) for c in contexts],
        "question_word": float(q.qword.index),
        "question_terms": float(n_terms),
        "unseen_share": q.unseen_share,
        "sentence_chars": [math.log1p(len(c.text)) for c in contexts],
        "position": [math.log1p(c.position) for c in contexts],
        "bm25_rank": [_log_rank(c.bm25_rank) for c in contexts],
        "dense_rank": [_log_rank(c.dense_rank) for c in contexts],
        "fused_rank": [_log_rank(c.fused_rank) for c in contexts],
        "bm25_score": [c.bm25_score for c in contexts],
        "dense_score": [c.dense_score for c in contexts],
        "coverage_vs_best": cov - cov.max(initial=0.0),
        "coverage_window_vs_best": cov_window - cov_window.max(initial=0.0),
        "pair_coverage_vs_best": pair_cov - pair_cov.max(initial=0.0),
        "soft_coverage_vs_best": soft_cov - soft_cov.max(initial=0.0),
        "proximity_vs_best": proximity - proximity.max(initial=0.0),
        "coverage_window_vs_document_best": cov_window - np.array([document_best[c.source] for c in contexts]),
        "meaning": meaning,
        "meaning_window": meaning_window,
        "meaning_vs_best": meaning - _best(meaning),
        "meaning_window_vs_best": meaning_window - _best(meaning_window),
    }
    out = np.empty((n, len(SENTENCE_FEATURES)), np.float32)
    for j, name in enumerate(SENTENCE_FEATURES):
        out[:, j] = columns[name]
    return out
