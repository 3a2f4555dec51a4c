"""Fusion of scored lists: each list's scores over its best score, weighted and summed."""

from __future__ import annotations

from collections.abc import Sequence

# BM25 and the dense embedder: on the training folds (about 480 documents each, CMRC2018 trial and
# DRCD dev), BM25 finds the right document first more often than the offline embedder or any
# reciprocal-rank fusion of the two; a quarter of the weight on the embedder loses nothing at the
# top and brings in passages that share meaning but not words.
DENSE_WEIGHT = 0.25


def weighted_fusion(
    lists: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float]
) -> list[tuple[int, float]]:
    """score(id) = sum over lists of weight * score / best score of that list (lists of
    (id, score), best first; scores of a list must be positive to count). Best first; ties go to
    the smaller id."""
    if len(lists) != len(weights):
        raise ValueError(f"one weight per list: {len(lists)} lists, {len(weights)} weights")
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must not be negative, got {list(weights)}")
    fused: dict[int, float] = {}
    for scored, weight in zip(lists, weights, strict=True):
        top = max((s for _, s in scored), default=0.0)
        if top <= 0:
            continue
        for doc, score in scored:
            if score > 0:
                fused[doc] = fused.get(doc, 0.0) + weight * score / top
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
