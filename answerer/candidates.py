"""Candidate sentences for a question: every sentence of the retrieved passages, in its document's context."""

from __future__ import annotations

from dataclasses import dataclass

from jbqa.answerer.features import QuestionTerms, SentenceContext
from jbqa.index.retriever import hybrid_search
from jbqa.index.store import LoadedIndex
from jbqa.ingest.normalize import normalize_chars
from jbqa.ingest.passage import Passage, Sentence

PASSAGES_PER_QUESTION = 12


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
    neighbours (across passage boundaries), its position and its document's title line."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        self.normalized = [normalize_chars(p.text) for p in index.passages]
        self._first: dict[int, int] = {}  # passage -> document position of its first sentence
        self._documents: dict[str, list[str]] = {}
        for i, (passage, norm) in enumerate(zip(index.passages, self.normalized, strict=True)):
            sentences = self._documents.setdefault(passage.source, [])
            self._first[i] = len(sentences)
            sentences.extend(norm[s.start : s.end] for s in passage.sentences)

    def document(self, source: str) -> list[str]:
        return self._documents[source]

    def title(self, source: str) -> str:
        sentences = self._documents[source]
        return sentences[0] if sentences else ""

    def position(self, passage_index: int, sentence_index: int) -> int:
        return self._first[passage_index] + sentence_index


def gather(view: CorpusView, q: QuestionTerms, passages: int = PASSAGES_PER_QUESTION) -> list[Candidate]:
    """Every sentence of the top retrieved passages with the context the ranker's features need."""
    candidates = []
    for rank, hit in enumerate(hybrid_search(view.index, q.text, k=passages), start=1):
        passage = view.index.passages[hit.passage]
        document = view.document(passage.source)
        title = view.title(passage.source)
        for j in range(len(passage.sentences)):
            at = view.position(hit.passage, j)
            context = SentenceContext(
                text=document[at],
                previous=document[at - 1] if at > 0 else "",
                following=document[at + 1] if at + 1 < len(document) else "",
                document_title=title,
                position=at,
                bm25_rank=hit.bm25_rank,
                dense_rank=hit.dense_rank,
                fused_rank=rank,
                bm25_score=hit.bm25_score,
                dense_score=hit.dense_score,
                soft=0.0,
            )
            candidates.append(Candidate(passage, hit.passage, j, context))
    return candidates
