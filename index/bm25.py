"""BM25 over jieba tokens (bm25s)."""

from __future__ import annotations

import logging
from pathlib import Path

import bm25s
import numpy as np

logging.getLogger("bm25s").setLevel(logging.WARNING)

K1 = 1.2
B = 0.75
METHOD = "lucene"


class BM25Index:
    def __init__(self, retriever: bm25s.BM25) -> None:
        self.retriever = retriever
        vocab: dict[str, int] = retriever.vocab_dict
        doc_freq = np.diff(retriever.scores["indptr"])
        self.n_docs = int(retriever.scores["num_docs"])
        self._df = {term: int(doc_freq[i]) for term, i in vocab.items() if i < len(doc_freq)}

    @classmethod
    def build(cls, token_lists: list[list[str]], progress: bool = False) -> BM25Index:
        retriever = bm25s.BM25(k1=K1, b=B, method=METHOD)
        retriever.index(token_lists, show_progress=progress)
        return cls(retriever)

    def validate(self) -> None:
        """Raise ValueError unless the score arrays are a well-formed sparse matrix over n_docs
        documents (checksums catch damaged files; this catches a structure that cannot be right)."""
        scores = self.retriever.scores
        indptr, indices, data = scores["indptr"], scores["indices"], scores["data"]
        if len(indptr) == 0 or indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(indices):
            raise ValueError("BM25 index pointers are not well formed")
        if len(data) != len(indices) or (len(indices) and (indices.min() < 0 or indices.max() >= self.n_docs)):
            raise ValueError("BM25 document ids are out of range")
        if not np.all(np.isfinite(data)):
            raise ValueError("BM25 scores are not finite")
        if any(i >= len(indptr) for i in self.retriever.vocab_dict.values()):  # bm25s may add one empty term
            raise ValueError("BM25 vocabulary points past its index")

    def search(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        """Top-k (passage index, score) with a positive score."""
        known = [t for t in tokens if t in self._df]
        if not known:
            return []
        scores = self.retriever.get_scores(known)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def postings(self, term: str) -> np.ndarray | None:
        """Ids of the passages whose BM25 terms include `term`; None for a term never indexed."""
        column = self.retriever.vocab_dict.get(term)
        if column is None or column + 1 >= len(self.retriever.scores["indptr"]):
            return None
        indptr = self.retriever.scores["indptr"]
        return self.retriever.scores["indices"][indptr[column] : indptr[column + 1]]

    def save(self, directory: Path) -> None:
        self.retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        return cls(bm25s.BM25.load(str(directory), show_progress=False))
