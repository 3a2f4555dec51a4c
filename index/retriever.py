"""Hybrid retrieval: BM25 over jieba tokens and dense FAISS search, fused by weighted scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jbqa.index.fusion import DENSE_WEIGHT, weighted_fusion
from jbqa.index.store import LoadedIndex
from jbqa.index.tokenize import index_terms

CANDIDATE_DEPTH = 50


@dataclass(frozen=True)
class Hit:
    passage: int  # position in LoadedIndex.passages
    score: float  # fused score
    bm25_rank: int | None  # rank in either list, from 1; None when absent
    dense_rank: int | None
    bm25_score: float = 0.0  # BM25 score over the question's best BM25 score (0..1)
    dense_score: float = 0.0  # cosine similarity of question and passage vectors


def hybrid_search(
    index: LoadedIndex, question: str, k: int = 8, depth: int = CANDIDATE_DEPTH, query_vector: np.ndarray | None = None
) -> list[Hit]:
    """Top-k passages for `question`, with their rank and score in either list; `query_vector`:
    the question's embedding (1, dim), when the caller has it already."""
    sparse = index.bm25.search(index_terms(question), depth)
    if query_vector is None:
        query_vector = index.embedder.encode_queries([question])
    scores, ids = index.dense.search(query_vector, depth)
    dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    top_bm25 = sparse[0][1] if sparse else 1.0
    sparse_rank = {doc: (r, s / top_bm25) for r, (doc, s) in enumerate(sparse, start=1)}
    dense_rank = {doc: (r, s) for r, (doc, s) in enumerate(dense, start=1)}
    fused = weighted_fusion([sparse, dense], [1.0 - DENSE_WEIGHT, DENSE_WEIGHT])[:k]
    return [
        Hit(
            doc,
            score,
            sparse_rank[doc][0] if doc in sparse_rank else None,
            dense_rank[doc][0] if doc in dense_rank else None,
            sparse_rank[doc][1] if doc in sparse_rank else 0.0,
            dense_rank[doc][1] if doc in dense_rank else 0.0,
        )
        for doc, score in fused
    ]
