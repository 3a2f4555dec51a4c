"""Candidate sentences for a question: every sentence of the retrieved passages, in its document's context."""

from __future__ import annotations

from dataclasses import dataclass

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

    def context(self, hit: Hit, fused_rank: int, sentence: int) -> SentenceContext:
        """The context of a sentence of a retrieved passage."""
        passage = hit.passage
        source = self.index.passages[passage].source
        at = self.position(passage, sentence)
        before, after = self.at(source, at - 1), self.at(source, at + 1)
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
        )


def gather(view: CorpusView, q: QuestionTerms, passages: int = PASSAGES_PER_QUESTION) -> list[Candidate]:
    """Every sentence of the top retrieved passages with the context the ranker's features need."""
    candidates = []
    for rank, hit in enumerate(hybrid_search(view.index, q.text, k=passages), start=1):
        passage = view.index.passages[hit.passage]
        for j in range(len(passage.sentences)):
            candidates.append(Candidate(passage, hit.passage, j, view.context(hit, rank, j)))
    return candidates
