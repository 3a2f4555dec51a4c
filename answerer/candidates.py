"""Candidate sentences for a question: every sentence of the retrieved passages, in its document's context."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jbqa.answerer.features import QuestionTerms, SentenceAnalysis, SentenceContext
from jbqa.index.lexicon import Lexicon
from jbqa.index.retriever import Hit, hybrid_search
from jbqa.index.store import LoadedIndex
from jbqa.ingest.normalize import normalize_chars
from jbqa.ingest.passage import Passage, Sentence

PASSAGES_PER_QUESTION = 12
_ANALYSIS_CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    passage_index: int
    sentence_index: int  # in the passage
    context: SentenceContext

    @property
    def sentence(self) -> Sentence:
        return self.passage.sentences[self.sentence_index]

    @property
    def source(self) -> str:
        return self.passage.source


class CorpusView:
    """Normalised sentences of the index in document order, so that each sentence knows its
    neighbours (across passage boundaries), its position, its words and its document's title line."""

    def __init__(self, index: LoadedIndex, lexicon: Lexicon | None = None) -> None:
        self.index = index
        self.lexicon = lexicon  # whose slots each sentence's words get
        self.normalized = [normalize_chars(p.text) for p in index.passages]
        self._first: dict[int, int] = {}  # passage -> document position of its first sentence
        self._documents: dict[str, list[tuple[int, int]]] = {}  # source -> (passage, sentence) in order
        for i, passage in enumerate(index.passages):
            sentences = self._documents.setdefault(passage.source, [])
            self._first[i] = len(sentences)
            sentences.extend((i, j) for j in range(len(passage.sentences)))
        self._analyses: dict[tuple[int, int], SentenceAnalysis] = {}
        self.vectors = index.sentence_vectors  # a row per sentence, passage after passage
        self._row = np.cumsum([0] + [len(p.sentences) for p in index.passages])  # passage -> its first row

    def text(self, passage: int, sentence: int) -> str:
        s = self.index.passages[passage].sentences[sentence]
        return self.normalized[passage][s.start : s.end]

    def analysis(self, passage: int, sentence: int) -> SentenceAnalysis:
        """The sentence's words (from the index's word table) as the features use them."""
        key = (passage, sentence)
        found = self._analyses.get(key)
        if found is None:
            s = self.index.passages[passage].sentences[sentence]
            words = self.index.words.words(passage, self.text(passage, sentence), s.start, s.end)
            found = SentenceAnalysis.of(words, self.lexicon)
            if len(self._analyses) >= _ANALYSIS_CACHE_LIMIT:
                self._analyses.clear()
            self._analyses[key] = found
        return found

    def at(self, source: str, position: int) -> tuple[int, int] | None:
        """(passage, sentence) of the document's sentence at `position`; None past either end."""
        sentences = self._documents[source]
        return sentences[position] if 0 <= position < len(sentences) else None

    def title(self, source: str) -> str:
        first = self.at(source, 0)
        return self.text(*first) if first else ""

    def position(self, passage_index: int, sentence_index: int) -> int:
        return self._first[passage_index] + sentence_index

    def meaning(self, question_vector: np.ndarray, at: tuple[int, int], before: tuple[int, int] | None,
                after: tuple[int, int] | None) -> tuple[float, float]:
        """Cosine similarity of the question to the sentence at `at`, and to the sentence with its
        neighbours (the mean of their vectors); NaN when the index has no sentence vectors."""
        if not len(self.vectors):
            return math.nan, math.nan
        rows = [int(self._row[p] + s) for p, s in filter(None, (before, at, after))]
        own = self.vectors[int(self._row[at[0]] + at[1])]
        window = self.vectors[rows].sum(axis=0)
        window /= max(float(np.linalg.norm(window)), 1e-12)
        return float(own @ question_vector), float(window @ question_vector)

    def context(self, hit: Hit, fused_rank: int, sentence: int, question_vector: np.ndarray) -> SentenceContext:
        """The context of a sentence of a retrieved passage."""
        passage = hit.passage
        source = self.index.passages[passage].source
        at = self.position(passage, sentence)
        before, after = self.at(source, at - 1), self.at(source, at + 1)
        meaning, meaning_window = self.meaning(question_vector, (passage, sentence), before, after)
        return SentenceContext(
            text=self.text(passage, sentence),
            previous=self.text(*before) if before else "",
            following=self.text(*after) if after else "",
            document_title=self.title(source),
            position=at,
            analysis=self.analysis(passage, sentence),
            previous_analysis=self.analysis(*before) if before else None,
            following_analysis=self.analysis(*after) if after else None,
            source=source,
            bm25_rank=hit.bm25_rank,
            dense_rank=hit.dense_rank,
            fused_rank=fused_rank,
            bm25_score=hit.bm25_score,
            dense_score=hit.dense_score,
            meaning=meaning,
            meaning_window=meaning_window,
        )


def gather(view: CorpusView, q: QuestionTerms, passages: int = PASSAGES_PER_QUESTION) -> list[Candidate]:
    """Every sentence of the top retrieved passages with the context the ranker's features need."""
    candidates = []
    vector = view.index.embedder.encode_queries([q.text])
    for rank, hit in enumerate(hybrid_search(view.index, q.text, k=passages, query_vector=vector), start=1):
        passage = view.index.passages[hit.passage]
        for j in range(len(passage.sentences)):
            candidates.append(Candidate(passage, hit.passage, j, view.context(hit, rank, j, vector[0])))
    return candidates
