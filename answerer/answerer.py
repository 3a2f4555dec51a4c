"""From retrieved passages to quoted answers: candidates -> features -> learned scores -> span -> abstain.

One path, after DrQA's reader and Haystack's extractive reader: every sentence of the retrieved
passages is a candidate; the sentence ranker scores them; the span scorer marks the answer in the
best ones; the abstain model turns the best candidate's scores into the probability that it answers,
and the reader answers only above the threshold chosen when the model was trained.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import threadpoolctl

from jbqa.answerer.answer_kinds import fitting_span
from jbqa.answerer.candidates import Candidate, CorpusView, gather
from jbqa.answerer.combined import DEPTH, candidate_rows, span_row
from jbqa.answerer.confidence import band
from jbqa.answerer.features import QuestionTerms, question_terms, sentence_matrix
from jbqa.answerer.figures import conflicting_figures, figure_in
from jbqa.answerer.followup import MAX_HISTORY, resolve
from jbqa.answerer.model import AbstainModel, ReaderModel, ScoredSpan, abstain_row
from jbqa.answerer.paragraphs import Paragraphs
from jbqa.answerer.question import MAX_QUESTION_CHARS, NOT_A_QUESTION_HINT, has_content_word, validate_question
from jbqa.answerer.suggest import suggest
from jbqa.answerer.terms import TermStats
from jbqa.index.lexicon import Lexicon, default_lexicon
from jbqa.index.store import LoadedIndex
from jbqa.ingest.clean import clean_inline
from jbqa.ingest.normalize import normalize_chars
from jbqa.ingest.passage import Sentence

if TYPE_CHECKING:
    from jbqa.answerer.neural import NeuralReader, SpanPrediction

DEFAULT_TOP = 3
MAX_TOP = 20
RUNNERS_UP = 6  # how many of the next-ranked candidates may join the best one
RUNNER_UP_GAP = 3.0  # ranker-score distance beyond which a runner-up is not considered
CONFLICT_MARGIN = 0.5  # runners-up at least this share as likely as the best one are shown beside it
# Logits by which the neural reader's best span of a quote's whole window (the quote and its
# neighbours) must beat its best span of the quote for the quote to widen to the neighbour that span
# lies in or runs into: chosen out of fold on the training questions (MODEL_CARD.md).
WIDEN_MARGIN = 3.0
SUGGEST_FROM = 6  # a refusal's suggestions come from the sentences ranked this near the question
DISTINCTIVE_SHARE = 0.5  # a word in more of the passages than this says nothing of what is asked
WARM_UP_QUESTION = "这份文件的主要内容是什么"  # any question with words to look for: it runs every stage


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
    score: float  # probability that this quote answers the question
    passage_id: str
    title: str | None = None  # of the source document, to cite it by
    date: str | None = None  # of the source document (ISO: YYYY-MM-DD, YYYY-MM or YYYY)
    date_kind: str | None = None  # "published" or "as_of" (inferred from the text); None: not stated
    publisher: str | None = None
    url: str | None = None
    paragraph: int = 1  # of the cleaned document (1-based), as the full-document view numbers them

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AskResult:
    question: str
    abstained: bool
    embedder: str
    answers: list[Answer] = field(default_factory=list)
    conflict: list[int] = field(default_factory=list)  # answers giving one figure different values
    confidence: float = 0.0  # probability that the best answer is right
    hint: str | None = None  # why a question was refused before any search, to show in place of an answer
    answered: str = ""  # the question as answered: completed from the history when it leans on it
    suggestions: list[str] = field(default_factory=list)  # with a refusal: near questions it answers

    @property
    def conflicting(self) -> bool:
        """The answers give one figure (same measure, unit and subject) different values from different sources."""
        return bool(self.conflict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "abstained": self.abstained,
            "embedder": self.embedder,
            "answers": [a.to_dict() for a in self.answers],
            "conflicting": self.conflicting,
            "conflict": self.conflict,
            "confidence": round(self.confidence, 4),
            "confidence_band": band(self.confidence),
            "answered_question": self.answered or self.question,
            "suggestions": self.suggestions,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class _Scored:
    candidate: Candidate
    probability: float
    quote: str
    offsets: list[int]  # raw offset of each quote character
    span: tuple[int, int] | None
    answers: bool = True  # False: the neural reader finds no answer in the quote
    after: bool = False  # True: weighed by the light reader alone beside a combined model's quotes, shown after them
    sentences: tuple[Sentence, Sentence] | None = None  # first and last, when the quote widened past the candidate's

    @property
    def bounds(self) -> tuple[Sentence, Sentence]:
        """The quote's first and last sentences."""
        return self.sentences or (self.candidate.sentence, self.candidate.sentence)

    def overlaps(self, other: _Scored) -> bool:
        """Whether the two quotes share characters of one source file."""
        (first, last), (other_first, other_last) = self.bounds, other.bounds
        return (self.candidate.source == other.candidate.source and first.char_start < other_last.char_end
                and other_first.char_start < last.char_end)


def one_blas_thread() -> None:
    """Limit the BLAS libraries numpy and scipy load to one thread, for the whole process. Answering
    multiplies small matrices (a question's word vectors, a few hundred sentence vectors), which one
    thread does as fast; OpenBLAS's idle workers spin for about a tenth of a second after each call
    and would take a core from the e5 engine's threads (with two cores, a few questions in a hundred
    took 3 to 8 times as long to embed)."""
    threadpoolctl.threadpool_limits(1, user_api="blas")


class Answerer:
    def __init__(
        self, index: LoadedIndex, model: ReaderModel | None = None, threshold: float | None = None,
        reader: NeuralReader | None = None, lexicon: Lexicon | None = None, suggest: bool = False,
    ) -> None:
        """`suggest`: a refusal offers near questions the documents answer (a few more answers'
        work: the chat page's, not the evaluation's). Limits the process's BLAS to one thread
        (`one_blas_thread`)."""
        one_blas_thread()
        self.index = index
        self.model = model or ReaderModel.load()
        self.reader = reader
        # A neural reader with a combined model decides from both readers' scores.
        self.combined = reader.combined if reader is not None else None
        light = self.model.abstain
        abstain = self.combined.answer if self.combined is not None else light
        if light is None or abstain is None:
            raise ValueError("the reader model has no abstain model")
        self.light_abstain: AbstainModel = light  # scores the quotes only the light reader weighs
        self.abstain: AbstainModel = abstain
        self.threshold = self.abstain.threshold if threshold is None else threshold
        self.lexicon = lexicon or default_lexicon()
        self.suggest = suggest
        self.view = CorpusView(index, self.lexicon)
        self.documents = index.documents
        self.terms = TermStats(self.view.normalized, index.bm25.postings)
        self.paragraphs = Paragraphs(index.sources)

    def warm_up(self) -> None:
        """Ask one question, so that the tokenizer's dictionaries, the embedder and the readers are
        loaded before the first question that counts."""
        self.ask(WARM_UP_QUESTION)

    def ask(self, question: str, top: int = DEFAULT_TOP, history: Sequence[str] = ()) -> AskResult:
        """Answer `question` with up to `top` quotes; raises QuestionError for empty/oversized input.
        `history`: the previous questions (as answered), most recent last: a follow-up question
        (那它的面积呢) is completed from them before it is answered."""
        if not 1 <= top <= MAX_TOP:
            raise ValueError(f"top must be between 1 and {MAX_TOP}, got {top}")
        text = validate_question(question)
        completed = resolve(text, [validate_question(h) for h in history[-MAX_HISTORY:]])
        if len(completed) <= MAX_QUESTION_CHARS:
            text = completed
        result = self._ask(question, text, top, suggesting=self.suggest)
        return replace(result, answered=text)

    def _ask(self, question: str, text: str, top: int, suggesting: bool = False) -> AskResult:
        label = self.index.embedder_label
        if not has_content_word(text):  # nothing to look for: refused, with what to ask instead
            return AskResult(question, True, label, hint=NOT_A_QUESTION_HINT)
        q = question_terms(text, self.terms)
        if not q.terms:
            return AskResult(question, True, label)
        candidates = gather(self.view, q)
        if not candidates:
            return AskResult(question, True, label)
        features = sentence_matrix(q, [c.context for c in candidates], self.lexicon)
        scores = self.model.rank(features)
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        if self.combined is not None:  # both readers weigh the best quotes
            best, *others = self._read_best(q, candidates, features, scores, order)
        else:
            best, others = self._score(q, candidates, features, scores, order, 0), []
        if best.probability < self.threshold or not best.answers:
            nearest = [candidates[i] for i in order[:SUGGEST_FROM]] if suggesting else []
            return AskResult(question, True, label, confidence=best.probability,
                             suggestions=self._suggestions(q, nearest))
        others += self._runners_up(q, candidates, features, scores, order, first=1 + len(others))  # not weighed yet
        chosen = self._diversify(best, others, top)
        answers = [self._answer(s) for s in chosen]
        return AskResult(question, False, label, answers, _conflict(answers), chosen[0].probability)

    def _suggestions(self, q: QuestionTerms, nearest: list[Candidate]) -> list[str]:
        """Questions about the figures of the sentences nearest to a refused one that share one of
        its distinctive words (in at most half the passages), answered from those sentences."""
        common = DISTINCTIVE_SHARE * len(self.view.normalized)
        distinctive = [t for t in q.terms if len(t) > 1 and 0 < self.terms.df(t) <= common]  # not 家 of 多少家
        close = [c for c in nearest if any(t in c.context.text for t in distinctive)]

        def answers_with(question: str) -> str | None:
            result = self._ask(question, question, 1)
            return None if result.abstained else normalize_chars(result.answers[0].quote)

        return [s for s in suggest((c.context.analysis.words for c in close), answers_with) if s != q.text]

    def _quote(self, q: QuestionTerms, c: Candidate) -> tuple[str, list[int], ScoredSpan | None]:
        """A candidate's quote, the raw offset of each of its characters, and the light reader's span."""
        quote, offsets = self._cleaned(c.source, c.sentence, c.sentence)
        return quote, offsets, self.model.best_span(q, c.context.analysis.words)  # the quote is the sentence's text

    def _span(self, quote: str, light: ScoredSpan | None, found: SpanPrediction | None) -> tuple[int, int] | None:
        """The answer's span in the quote: the neural reader's when it read the quote and marks spans,
        else the light reader's."""
        if self.reader is not None and self.reader.marks_spans and self.combined is None:
            return (found.start, found.end) if found else None
        return with_qualifier(quote, (light.start, light.end)) if light else None

    def _score(
        self, q: QuestionTerms, candidates: list[Candidate], features: np.ndarray, scores: np.ndarray,
        order: list[int], position: int,
    ) -> _Scored:
        """The candidate at `position` of the ranking, with its quote, span and answer probability."""
        i = order[position]
        c = candidates[i]
        quote, offsets, light = self._quote(q, c)
        row = _abstain_row(features, scores, order, position, light)
        found, answers = None, True
        if self.reader is not None and self.combined is None:  # it marks the span, may find none; the light one scores it
            found = self.reader.read_quote(q.text, quote, c.context.previous, c.context.following)
            gate = self.reader.no_answer_margin
            answers = found is not None and (gate is None or found.null_score is None
                                             or found.score - found.null_score >= gate)
        span = self._span(quote, light, found)
        if self.combined is not None:  # shown beside the combined model's answer: only a span of the kind asked
            answers = fitting_span(q.answer_kind, quote, [span])[1]
        return _Scored(c, self.light_abstain.probability(row), quote, offsets, span, answers,
                       after=self.combined is not None)

    def _read_best(
        self, q: QuestionTerms, candidates: list[Candidate], features: np.ndarray, scores: np.ndarray,
        order: list[int],
    ) -> list[_Scored]:
        """The light reader's DEPTH best-ranked candidates read by the neural reader in one batch and
        weighed by the combined model, most probable first, each marked by the reader it prefers
        unless that reader's span is of another kind than the question asks and the other's is not
        (`answer_kinds`). A quote where neither reader's span fits has probability 0 and comes last,
        as no answer."""
        assert self.reader is not None and self.combined is not None
        top = order[:DEPTH]
        quotes = [self._quote(q, candidates[i]) for i in top]
        light_rows = [_abstain_row(features, scores, order, k, light) for k, (_, _, light) in enumerate(quotes)]
        light_spans = [(light.start, light.end) if light else None for _, _, light in quotes]
        found = self.reader.read_quotes(q.text, [(quote, candidates[i].context.previous, candidates[i].context.following)
                                                 for i, (quote, _, _) in zip(top, quotes, strict=True)], light_spans)
        probability = self.combined.probabilities(candidate_rows(q.text, light_rows, found, light_spans))
        scored = []
        for i, p, (quote, offsets, _), f, row, span in zip(
                top, probability, quotes, found, light_rows, light_spans, strict=True):
            neural = (f.start, f.end) if f is not None else None
            light = with_qualifier(quote, span) if span else None
            neural_first = f is not None and (span is None or self.combined.neural_span_wins(
                span_row(q.text, quote, f, span, row)))
            marked, answers = fitting_span(q.answer_kind, quote, [neural, light] if neural_first else [light, neural])
            pick = _Scored(candidates[i], float(p) if answers else 0.0, quote, offsets, marked, answers)
            if answers and f is not None and marked == neural:
                pick = self._widened(q, pick, f) or pick
            scored.append(pick)
        return sorted(scored, key=lambda s: (not s.answers, -s.probability))

    def _widened(self, q: QuestionTerms, s: _Scored, found: SpanPrediction) -> _Scored | None:
        """The quote widened to the neighbouring sentence the neural reader's best span of the window
        lies in or runs into (an answer in the sentence before, or one that goes on into the next),
        when that span beats its best of the quote by WIDEN_MARGIN and is of the kind asked; else None.
        The widened quote is the cleaned text of the raw span from its first sentence to its last."""
        if found.outside is None or found.outside[2] < found.score + WIDEN_MARGIN:
            return None
        start, end, _ = found.outside
        c = s.candidate
        read, first, last = s.offsets, c.sentence, c.sentence  # `read`: raw offsets of the text the reader read
        runs_on = end > len(s.quote)
        if start < 0:
            before = self._neighbour(c, -1, c.context.previous)
            if before is None:
                return None
            raw, first = before
            read, start, end = raw + read, start + len(raw), end + len(raw)
        if runs_on:
            after = self._neighbour(c, 1, c.context.following)
            if after is None:
                return None
            raw, last = after
            read = read + raw
        if not 0 <= start < end <= len(read):
            return None
        quote, offsets = self._cleaned(c.source, first, last)
        at = {offset: k for k, offset in enumerate(offsets)}
        if read[start] not in at or read[end - 1] not in at:
            return None
        span = (at[read[start]], at[read[end - 1]] + 1)
        if not fitting_span(q.answer_kind, quote, [span])[1]:
            return None
        return replace(s, quote=quote, offsets=offsets, span=span, sentences=(first, last))

    def _neighbour(self, c: Candidate, step: int, read: str) -> tuple[list[int], Sentence] | None:
        """The raw offsets of the characters of the sentence `step` away from the candidate's in its
        document, and the sentence; None when there is none or it is not the text the reader read."""
        at = self.view.at(c.source, c.context.position + step)
        if at is None:
            return None
        sentence = self.index.passages[at[0]].sentences[at[1]]
        quote, offsets = self._cleaned(c.source, sentence, sentence)
        return (offsets, sentence) if len(quote) == len(read) else None

    def _cleaned(self, source: str, first: Sentence, last: Sentence) -> tuple[str, list[int]]:
        """The clean text of a source from its sentence `first` to its sentence `last`, and the raw
        offset of each of its characters."""
        return clean_inline(self.index.sources[source], first.char_start, last.char_end)

    def _runners_up(
        self, q: QuestionTerms, candidates: list[Candidate], features: np.ndarray, scores: np.ndarray,
        order: list[int], first: int = 1,
    ) -> list[_Scored]:
        """The candidates ranked from `first` on, scored by the light reader (and a neural reader without
        a combined model), while they are close to the best one in ranker score."""
        scored = []
        for k in range(first, min(len(order), RUNNERS_UP + 1)):
            if scores[order[k]] < scores[order[0]] - RUNNER_UP_GAP:
                break  # too far behind to come close in probability: not worth reading (ranked order)
            scored.append(self._score(q, candidates, features, scores, order, k))
        return scored

    def _diversify(self, best: _Scored, others: list[_Scored], top: int) -> list[_Scored]:
        """The best candidate and the others whose probability is close to its own, most probable
        first (those the light reader alone weighed beside a combined model's after the model's), one
        quote per source before a second from any; no repeated quotes, nor quotes that share a
        sentence (a widened quote holds its neighbour's). The pool does not depend on `top`, so
        the first answer is the same however many are asked for."""
        pool = [best]
        quotes = {best.quote}
        floor = max(self.threshold, CONFLICT_MARGIN * best.probability)
        for pick in others:
            if (pick.probability >= floor and pick.answers and pick.quote not in quotes
                    and not any(pick.overlaps(s) for s in pool)):
                quotes.add(pick.quote)
                pool.append(pick)
        pool.sort(key=lambda s: (s.after, -s.probability))
        sources: set[str] = set()
        first_of_source = []
        for s in pool:
            first_of_source.append(s.candidate.source not in sources)
            sources.add(s.candidate.source)
        ranked = [s for s, first in zip(pool, first_of_source, strict=True) if first]
        ranked += [s for s, first in zip(pool, first_of_source, strict=True) if not first]
        return ranked[:top]

    def _answer(self, s: _Scored) -> Answer:
        c, span = s.candidate, s.span
        first, last = s.bounds
        meta = self.documents[c.source]
        return Answer(
            quote=s.quote,
            answer=s.quote[span[0] : span[1]] if span else None,
            answer_start=span[0] if span else None,
            answer_end=span[1] if span else None,
            source=c.source,
            line_start=first.line_start,
            line_end=last.line_end,
            char_start=first.char_start,
            char_end=last.char_end,
            answer_char_start=s.offsets[span[0]] if span else None,
            answer_char_end=s.offsets[span[1] - 1] + 1 if span else None,
            score=round(s.probability, 4),
            passage_id=c.passage.id,
            title=meta.title,
            date=meta.date,
            date_kind=meta.date_kind,
            publisher=meta.publisher,
            url=meta.url,
            paragraph=self.paragraphs.number(c.source, first.char_start),
        )


def _abstain_row(features: np.ndarray, scores: np.ndarray, order: list[int], position: int,
                 light: ScoredSpan | None) -> list[float]:
    """The light abstain inputs of the candidate at `position` of the ranking. Runners-up are scored
    as if they led: their margin is over the candidate ranked right below them."""
    i = order[position]
    below = float(scores[order[position + 1]]) if position + 1 < len(order) else None
    return abstain_row(features[i], float(scores[i]), below, light)


# Words that qualify a figure (超480家 is not 480家): part of the answer when they stand right before it.
_QUALIFIER = re.compile(r"(?:超过|超|将近|接近|近|约|逾|多达|达到|达|共|累计|不到|不足|仅)$")
_FIGURE_START = re.compile(r"[\d零一二三四五六七八九十百千万两]")


def with_qualifier(quote: str, span: tuple[int, int]) -> tuple[int, int]:
    """The span, widened to the qualifier of the figure it starts with."""
    start, end = span
    if not _FIGURE_START.match(quote, start):
        return span
    found = _QUALIFIER.search(quote, 0, start)
    return (found.start(), end) if found else span


def _conflict(answers: list[Answer]) -> list[int]:
    """The answers that give the first answer's figure different values, whatever the question word:
    the same facts found by a differently worded question give the same notice."""
    figures = [
        (a.source, figure_in(a.quote, a.answer_start, a.answer_end)
         if a.answer_start is not None and a.answer_end is not None else None)
        for a in answers
    ]
    return conflicting_figures(figures)
