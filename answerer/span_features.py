"""Answer-span candidates inside a sentence and their named features, for the learned span scorer.

Candidates are runs of jieba words that stay inside one sentence and start and end on a word
(not on punctuation): short runs anywhere, and longer ones that are whole clauses (a description,
a reason, a list); features describe the run's shape (length, part of speech, digits, quotes,
clause boundaries), how it relates to the question (overlap, distance to the question's words,
the words around the question word standing around it) and the kind of answer asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from jbqa.answerer.features import ENTITY_POS, EXPECTED_POS, QuestionTerms
from jbqa.index.words import POS, Words

MAX_SPAN_WORDS = 16
MAX_SPAN_CHARS = 60
# A run of whole clauses may be longer, up to a sentence: a quarter of CMRC2018's training answers
# are longer than 45 characters (a reason, a description, a list). Out of fold, on the quotes that
# hold the answer, span F1 0.593 -> 0.602 there; DRCD's short answers 0.611 -> 0.604 (model card).
MAX_CLAUSE_RUN_CHARS = 300
_CLAUSE_SEPARATORS = set("，,：:；;")
_SENTENCE_ENDS = "。；！？;!?"
CONTEXT_CHARS = 6
_PUNCT = set("，。；：！？、,.;:!?（）()“”\"'《》「」『』【】[]—…·- \t\n\r")
_CLAUSE_END = set("，。；：！？,;:!?")
_OPENERS = set("“《「『\"'（(【[")
_CLOSERS = set("”》」』\"'）)】]")
_NUMERAL = re.compile(r"[零一二三四五六七八九十百千万亿两\d]")
_DATE = re.compile(r"\d{1,4}年|\d{1,2}月|\d{1,2}日|世纪|年代|[一二三四五六七八九十]{1,3}月")


@dataclass(frozen=True)
class Span:
    start: int  # offsets in the sentence
    end: int
    first: int  # index of the first and last word
    last: int


# An answer does not start with a particle (的, 了) nor end with a preposition, conjunction or
# particle: among the training answers, fewer than 1 in 100 does, among all runs of words 1 in 5.
_NO_START = frozenset({POS["u"]})
_NO_END = frozenset({POS["u"], POS["p"], POS["c"]})


def span_candidates(words: Words) -> list[Span]:
    """Runs inside one sentence that start and end on a word that may bound an answer (not
    punctuation, not a function word): of at most MAX_SPAN_WORDS words and MAX_SPAN_CHARS
    characters, or longer runs of whole clauses up to MAX_CLAUSE_RUN_CHARS characters."""
    text = words.text
    ends_sentence = [i for i, ch in enumerate(text) if ch in _SENTENCE_ENDS]
    spans = []
    n = len(words.pos)
    for i in range(n):
        if words.punct[i] or words.pos[i] in _NO_START:
            continue
        start = words.bounds[i]
        stop = next((e for e in ends_sentence if e >= start), len(text))
        opens_clause = start == 0 or text[start - 1] in _CLAUSE_SEPARATORS
        for j in range(i, n):
            end = words.bounds[j + 1]
            short = j - i < MAX_SPAN_WORDS and end - start <= MAX_SPAN_CHARS
            if end > stop or not (short or opens_clause and end - start <= MAX_CLAUSE_RUN_CHARS):
                break
            if words.punct[j] or words.pos[j] in _NO_END:
                continue
            if short or end == len(text) or text[end] in _CLAUSE_END:
                spans.append(Span(start, end, i, j))
    return spans


SPAN_FEATURES: tuple[str, ...] = (
    "question_word", "chars", "words", "first_pos", "last_pos", "before_pos", "after_pos",
    "starts_clause", "ends_clause", "quoted", "has_comma", "has_list_mark", "has_digit", "numeral_share",
    "date_like", "question_overlap", "overlaps_question_word", "distance_left", "distance_right",
    "left_word_before", "right_word_after", "left_word_after", "right_word_before", "relative_start",
    "question_terms_in_sentence", "char_before", "char_after", "question_chars_before", "question_chars_after",
    *(f"span_{name}" for name in ENTITY_POS), "left_terms_vs_question", "right_terms_vs_question", "one_word",
    "expected_words", "expected_last", "expected_first", "head_suffix", "head_inside",
)
CATEGORICAL_SPAN_FEATURES = (
    "question_word", "first_pos", "last_pos", "before_pos", "after_pos", "char_before", "char_after",
)
# Characters around a span that say much about its edges (a categorical feature; others are one class).
EDGE_CHARS = "的是在为于了和与及、，。：；“”《》（）之被由到从以对"
WINDOW_CHARS = 8
_FAR = 100


def _term_spots(q: QuestionTerms, text: str) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of the question's content words in the sentence."""
    spots = []
    for term in q.terms:
        if len(term) < 2 and not term.isdigit():
            continue
        start = text.find(term)
        while start != -1:
            spots.append((start, start + len(term)))
            start = text.find(term, start + 1)
    return spots


def _prefix(flags: list[bool]) -> np.ndarray:
    """Prefix sums, so that the count of flagged characters in [a, b) is p[b] - p[a]."""
    return np.concatenate([[0], np.cumsum(np.asarray(flags, dtype=np.int32))])


def _near_mask(word: str | None, text: str, starts: np.ndarray, ends: np.ndarray, after: bool) -> np.ndarray:
    """Whether `word` occurs within a few characters after (or before) each span."""
    if not word:
        return np.zeros(len(starts))
    reach = CONTEXT_CHARS + 4
    hits = [m for m in range(len(text)) if text.startswith(word, m)]
    if not hits:
        return np.zeros(len(starts))
    at = np.array(hits)[np.newaxis, :]
    if after:
        inside = (at >= ends[:, None]) & (at + len(word) <= ends[:, None] + reach)
    else:
        inside = (at >= starts[:, None] - reach) & (at + len(word) <= starts[:, None])
    return np.asarray(inside.any(axis=1), dtype=np.float64)


def _edge_class(ch: str) -> int:
    if ch.isdigit():
        return len(EDGE_CHARS) + 1
    found = EDGE_CHARS.find(ch)
    return found if found >= 0 else len(EDGE_CHARS)


def span_matrix(q: QuestionTerms, words: Words, spans: list[Span]) -> np.ndarray:
    """One row of SPAN_FEATURES per span (numpy over all spans of the sentence at once)."""
    text = words.text
    n = len(text)
    starts = np.array([s.start for s in spans])
    ends = np.array([s.end for s in spans])
    first = np.array([s.first for s in spans])
    last = np.array([s.last for s in spans])
    pos = np.array(words.pos + (POS["x"],))
    lengths = ends - starts
    chars = list(text)
    in_question = _prefix([ch in q.normalized and ch not in _PUNCT for ch in chars])
    wordy = _prefix([ch not in _PUNCT for ch in chars])
    comma = _prefix([ch in "，," for ch in chars])
    listed = _prefix([ch == "、" for ch in chars])
    digit = _prefix([ch.isdigit() for ch in chars])
    numeral = _prefix([bool(_NUMERAL.match(ch)) for ch in chars])
    # Per character, with a sentence end standing before the text and after it: index c + 1.
    padded = "。" + text + "。"
    edge = np.array([_edge_class(ch) for ch in padded])
    opener = np.array([ch in _OPENERS for ch in padded])
    closer = np.array([ch in _CLOSERS for ch in padded])
    clause_mark = np.array([ch in _CLAUSE_END for ch in padded])
    before, after = starts, ends + 1  # positions in `padded` of the characters around each span
    spots = _term_spots(q, text)
    if spots:
        s_start = np.array([a for a, _ in spots])[np.newaxis, :]
        s_end = np.array([b for _, b in spots])[np.newaxis, :]
        left_gap = np.where(s_end <= starts[:, None], starts[:, None] - s_end, _FAR).min(axis=1)
        right_gap = np.where(s_start >= ends[:, None], s_start - ends[:, None], _FAR).min(axis=1)
        overlaps = ((s_start < ends[:, None]) & (starts[:, None] < s_end)).any(axis=1)
    else:
        left_gap = right_gap = np.full(len(spans), _FAR)
        overlaps = np.zeros(len(spans), dtype=bool)
    dates = [(m.start(), m.end()) for m in _DATE.finditer(text)]
    if dates:
        d_start = np.array([a for a, _ in dates])[np.newaxis, :]
        d_end = np.array([b for _, b in dates])[np.newaxis, :]
        has_date = ((d_start >= starts[:, None]) & (d_end <= ends[:, None])).any(axis=1)
    else:
        has_date = np.zeros(len(spans), dtype=bool)
    clause_start = clause_mark[before] | opener[before]
    clause_end = clause_mark[after] | closer[after]
    columns = [
        np.full(len(spans), float(q.qword.index)),
        np.log1p(lengths),
        (last - first + 1).astype(np.float64),
        pos[first],
        pos[last],
        np.where(first > 0, pos[np.maximum(first - 1, 0)], POS["x"]),
        pos[np.minimum(last + 1, len(pos) - 1)],
        clause_start,
        clause_end,
        opener[before] & closer[after],
        (comma[ends] - comma[starts]) > 0,
        listed[ends] - listed[starts],
        (digit[ends] - digit[starts]) > 0,
        (numeral[ends] - numeral[starts]) / np.maximum(lengths, 1),
        has_date,
        (in_question[ends] - in_question[starts]) / np.maximum(wordy[ends] - wordy[starts], 1),
        overlaps,
        np.log1p(left_gap),
        np.log1p(right_gap),
        _near_mask(q.left, text, starts, ends, after=False),
        _near_mask(q.right, text, starts, ends, after=True),
        _near_mask(q.left, text, starts, ends, after=True),
        _near_mask(q.right, text, starts, ends, after=False),
        starts / max(n, 1),
        np.full(len(spans), float(len(spots))),
        edge[before],
        edge[after],
        (in_question[starts] - in_question[np.maximum(starts - WINDOW_CHARS, 0)]) / WINDOW_CHARS,
        (in_question[np.minimum(ends + WINDOW_CHARS, n)] - in_question[ends]) / WINDOW_CHARS,
        *_answer_kind_columns(q, words, spans, starts, ends, first, last, spots),
    ]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns]).astype(np.float32)


def _answer_kind_columns(
    q: QuestionTerms, words: Words, spans: list[Span], starts: np.ndarray, ends: np.ndarray,
    first: np.ndarray, last: np.ndarray, spots: list[tuple[int, int]],
) -> list[np.ndarray]:
    """What kind of words a span holds against what the question asks for, and where it sits
    among the question's words against where the question word sits among them."""
    pos = np.array(words.pos, dtype=np.int64)
    columns = []
    for name in ENTITY_POS:  # words of each name and figure kind inside the span
        counts = np.concatenate([[0], np.cumsum(pos == POS[name])])
        columns.append(counts[last + 1] - counts[first])
    if q.qword.start >= 0:
        left_in_question = sum(1 for t in q.terms if 0 <= q.normalized.find(t) < q.qword.start)
    else:
        left_in_question = 0
    if spots:
        spot_start = np.array([a for a, _ in spots])[np.newaxis, :]
        spot_end = np.array([b for _, b in spots])[np.newaxis, :]
        left = (spot_end <= starts[:, None]).sum(axis=1)
        right = (spot_start >= ends[:, None]).sum(axis=1)
    else:
        left = right = np.zeros(len(spans), dtype=np.int64)
    columns += [left - left_in_question, right - (len(q.terms) - left_in_question), (first == last).astype(float)]
    expected = EXPECTED_POS.get(q.qword.category)
    if expected:
        wanted = np.isin(pos, [POS[name] for name in expected])
        counts = np.concatenate([[0], np.cumsum(wanted)])
        columns += [counts[last + 1] - counts[first], wanted[last].astype(float), wanted[first].astype(float)]
    else:
        columns += [np.full(len(spans), -1.0)] * 3
    head = q.right if q.qword.category in ("which", "what") else None
    if head:  # 哪一种气候 -> an answer that ends like 气候 (…季风气候)
        text = words.text
        columns.append(np.array([float(text[b - 1] == head[-1]) for b in ends]))
        columns.append(np.array([float(head in text[a:b]) for a, b in zip(starts, ends, strict=True)]))
    else:
        columns += [np.full(len(spans), -1.0)] * 2
    return columns
