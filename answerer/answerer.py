"""From retrieved passages to quoted answers with their source file, lines and offsets."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from jbqa.answerer.question import AnswerType, Question, analyse, term_credit
from jbqa.answerer.spans import find_all, find_span
from jbqa.answerer.terms import TermStats
from jbqa.index.retriever import hybrid_search
from jbqa.index.store import LoadedIndex
from jbqa.ingest.clean import clean_inline, clean_text
from jbqa.ingest.normalize import normalize_chars
from jbqa.ingest.passage import Passage, Sentence

# Calibrated on eval/gold.jsonl with `jbqa eval --calibrate` (see README, "Abstention").
DEFAULT_THRESHOLD = 0.33
DEFAULT_TOP = 3
MAX_TOP = 20
PASSAGES_PER_QUESTION = 12
CONFLICT_MARGIN = 0.8  # answers within this share of the best score are shown side by side


@dataclass(frozen=True)
class Answer:
    quote: str
    answer: str | None
    answer_start: int | None  # offsets of `answer` inside `quote`
    answer_end: int | None
    source: str
    line_start: int
    line_end: int
    char_start: int  # raw source file, 0-based, end-exclusive
    char_end: int
    answer_char_start: int | None
    answer_char_end: int | None
    score: float
    passage_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AskResult:
    question: str
    abstained: bool
    embedder: str
    answers: list[Answer] = field(default_factory=list)
    conflicting: bool = False  # the answers give different figures from different sources
    confidence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "abstained": self.abstained,
            "embedder": self.embedder,
            "answers": [a.to_dict() for a in self.answers],
            "conflicting": self.conflicting,
            "confidence": round(self.confidence, 4),
        }


@dataclass(frozen=True)
class _Candidate:
    passage: Passage
    sentence: Sentence
    score: float
    support: float  # how much of the question the sentence and its neighbours cover
    window: str  # the sentence with its neighbours (original characters)


def compactness(question: Question, text: str) -> float:
    """How tightly the matched question words sit together in `text` (1 = side by side)."""
    spots = {t.text: find_all(text, t.text) for t in question.terms}
    spots = {term: found for term, found in spots.items() if found}
    if len(spots) < 2:
        return 1.0 if spots else 0.0
    anchor = max(spots, key=lambda term: next(t.weight for t in question.terms if t.text == term))
    best = 0.0
    for a in spots[anchor]:
        starts = [min(found, key=lambda p: abs(p - a)) for found in spots.values()]
        ends = [p + len(term) for p, term in zip(starts, spots, strict=True)]
        width = max(ends) - min(starts)
        best = max(best, min(1.0, sum(len(term) for term in spots) / width))
    return best


def coverage(question: Question, text: str) -> float:
    total = sum(t.weight for t in question.terms)
    if total <= 0:
        return 0.0
    return sum(t.weight * term_credit(t.text, text) for t in question.terms) / total


class Answerer:
    def __init__(self, index: LoadedIndex, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.index = index
        self.threshold = threshold
        self._normalized = [normalize_chars(p.text) for p in index.passages]
        self.terms = TermStats(self._normalized, index.bm25.postings)
        by_source: dict[str, list[str]] = {}
        for passage, norm in zip(index.passages, self._normalized, strict=True):
            by_source.setdefault(passage.source, []).append(norm)
        self._documents = {source: "\n".join(texts) for source, texts in by_source.items()}

    def ask(self, question: str, top: int = DEFAULT_TOP) -> AskResult:
        """Answer `question` with up to `top` quotes; raises QuestionError for empty/oversized input."""
        if not 1 <= top <= MAX_TOP:
            raise ValueError(f"top must be between 1 and {MAX_TOP}, got {top}")
        q = analyse(question, self.terms)
        label = self.index.embedder_label
        if not q.terms:
            return AskResult(q.text, True, label)
        candidates = self._rank(q)
        if not candidates:
            return AskResult(q.text, True, label)
        best = candidates[0]
        confidence = _confidence(q, best, self._documents[best.passage.source])
        if confidence < self.threshold:
            return AskResult(q.text, True, label, confidence=confidence)
        chosen = self._diversify(candidates, top)
        answers = [self._answer(q, c) for c in chosen]
        return AskResult(q.text, False, label, answers, self._conflicting(q, answers), confidence)

    def _rank(self, q: Question) -> list[_Candidate]:
        hits = hybrid_search(self.index, q.text, k=PASSAGES_PER_QUESTION)
        candidates = []
        for rank, hit in enumerate(hits):
            passage = self.index.passages[hit.passage]
            norm = self._normalized[hit.passage]
            retrieval = 1.0 / (1 + rank)
            figure_missing = 0.2 if _misses_figures(q, self._documents[passage.source]) else 0.0
            sentences = passage.sentences
            # Sentences apart, so that no match straddles two of them (示范区|长江 is no 区长).
            parts = [norm[s.start : s.end] for s in sentences]
            for j, s in enumerate(sentences):
                own_text = parts[j]
                neighbourhood = "\n".join(parts[max(0, j - 1) : j + 2])
                own = coverage(q, own_text)
                support = coverage(q, neighbourhood)
                typed = _type_match(q, passage.text[s.start : s.end])
                short = 0.15 if s.end - s.start < 12 else 0.0
                tight = compactness(q, own_text)
                score = (
                    0.5 * own + 0.15 * support + 0.1 * retrieval + 0.15 * typed + 0.1 * tight * own
                    - short - figure_missing
                )
                w_start, w_end = sentences[max(0, j - 1)].start, sentences[min(len(sentences) - 1, j + 1)].end
                candidates.append(_Candidate(passage, s, score, support, passage.text[w_start:w_end]))
        candidates.sort(key=lambda c: -c.score)
        return candidates

    @staticmethod
    def _diversify(candidates: list[_Candidate], top: int) -> list[_Candidate]:
        """Best first; then prefer close runners-up from sources not yet shown; no repeated quotes."""
        best = candidates[0].score
        chosen: list[_Candidate] = []
        seen_quotes: set[str] = set()
        pool = list(candidates)
        while pool and len(chosen) < top:
            sources = {c.passage.source for c in chosen}
            pick = next(
                (c for c in pool if c.passage.source not in sources and c.score >= CONFLICT_MARGIN * best),
                pool[0],
            )
            pool.remove(pick)
            quote = pick.passage.sentence_text(pick.sentence)
            if quote in seen_quotes:
                continue
            seen_quotes.add(quote)
            chosen.append(pick)
        return chosen

    def _answer(self, q: Question, c: _Candidate) -> Answer:
        passage = c.passage
        s = self._quoted_span(q, passage, c.sentence)
        raw = self.index.sources[passage.source]
        quote, offsets = clean_inline(raw, s.char_start, s.char_end)
        span = find_span(q, quote)
        answer = quote[span[0] : span[1]] if span else None
        return Answer(
            quote=quote,
            answer=answer,
            answer_start=span[0] if span else None,
            answer_end=span[1] if span else None,
            source=passage.source,
            line_start=s.line_start,
            line_end=s.line_end,
            char_start=s.char_start,
            char_end=s.char_end,
            answer_char_start=offsets[span[0]] if span else None,
            answer_char_end=offsets[span[1] - 1] + 1 if span else None,
            score=round(c.score, 4),
            passage_id=passage.id,
        )

    def _quoted_span(self, q: Question, passage: Passage, s: Sentence) -> Sentence:
        """The sentence, or the sentence with the one before it when only that one holds the answer
        (就在同一天，… after a sentence that gives the date) and the two are contiguous text."""
        position = passage.sentences.index(s)
        typed = q.answer_type in (AnswerType.DATE, AnswerType.QUANTITY, AnswerType.PLACE, AnswerType.ENTITY)
        if not typed or position == 0 or find_span(q, passage.sentence_text(s)):
            return s
        before = passage.sentences[position - 1]
        joined = passage.text[before.start : s.end]
        raw = self.index.sources[passage.source]
        if not find_span(q, passage.sentence_text(before)) or clean_text(raw[before.char_start : s.char_end]) != joined:
            return s
        return Sentence(before.start, s.end, before.char_start, s.char_end, before.line_start, s.line_end)

    @staticmethod
    def _conflicting(q: Question, answers: list[Answer]) -> bool:
        if q.answer_type is not AnswerType.QUANTITY or not answers:
            return False
        best = answers[0].score
        figures = {
            (a.source, normalize_chars(a.answer)) for a in answers if a.answer and a.score >= CONFLICT_MARGIN * best
        }
        return len({f for _, f in figures}) > 1 and len({s for s, _ in figures}) > 1


def _misses_figures(q: Question, normalized_document: str) -> bool:
    """The question names a figure or year (2019) that the document does not contain."""
    return any(t.text.isdigit() and t.text not in normalized_document for t in q.terms)


def _confidence(q: Question, best: _Candidate, document: str) -> float:
    """How sure the best sentence answers: the share of the question its neighbourhood covers,
    cut down when the question is about something the corpus never names, when a figure of the
    question is missing, or when nothing of the asked type is there."""
    confidence = best.support
    if q.unknown_topics:
        confidence *= 0.5
    if _misses_figures(q, document):
        confidence *= 0.3
    if q.answer_type in (AnswerType.DATE, AnswerType.QUANTITY) and not find_span(q, best.window):
        confidence *= 0.35
    return confidence


def _type_match(q: Question, sentence: str) -> float:
    """1 when the sentence holds something of the asked type (cheap checks only); for 是什么 and
    指的是什么 also when it defines a word of the question (长嘉汇的动力就是…)."""
    if _DEFINITION_ASKED.search(q.normalized) and _defines(q, normalize_chars(sentence)):
        return 1.0
    if q.answer_type in (AnswerType.QUANTITY, AnswerType.DATE, AnswerType.LIST, AnswerType.NAME):
        return 1.0 if find_span(q, sentence) else 0.0
    return 0.5


_DEFINITION_ASKED = re.compile(r"(?:指的?是|是指|就是|是)(?:什么|啥|哪些|怎样)")


def _defines(q: Question, normalized_sentence: str) -> bool:
    """The sentence says what the question's most specific word is: "<word>(就)是/指/即…"."""
    if not q.terms:
        return False
    key = max(q.terms, key=lambda t: (len(t.text) > 1, t.weight)).text
    return re.search(re.escape(key) + r"(?:就是|即是|是指|指的是|是|即|指)", normalized_sentence) is not None
