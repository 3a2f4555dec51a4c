"""Hybrid retrieval: BM25 over jieba tokens and dense FAISS search, fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass

from jbqa.index.fusion import reciprocal_rank_fusion
from jbqa.index.store import LoadedIndex
from jbqa.index.tokenize import index_terms

CANDIDATE_DEPTH = 50


@dataclass(frozen=True)
class Hit:
    passage: int  # position in LoadedIndex.passages
    score: float  # fused RRF score
    bm25_rank: int | None
    dense_rank: int | None


def hybrid_search(index: LoadedIndex, question: str, k: int = 8, depth: int = CANDIDATE_DEPTH) -> list[Hit]:
    """Top-k passages for `question`, each with its rank in either list (1-based, None if absent)."""
    sparse = [doc for doc, _ in index.bm25.search(index_terms(question), depth)]
    _, ids = index.dense.search(index.embedder.encode_queries([question]), depth)
    dense = [int(i) for i in ids[0] if i >= 0]
    sparse_rank = {doc: r for r, doc in enumerate(sparse, start=1)}
    dense_rank = {doc: r for r, doc in enumerate(dense, start=1)}
    fused = reciprocal_rank_fusion([sparse, dense])[:k]
    return [Hit(doc, score, sparse_rank.get(doc), dense_rank.get(doc)) for doc, score in fused]
