"""Small metric functions: each returns one score and is computed per question."""

from __future__ import annotations

import math
from dataclasses import dataclass

from jbqa.ingest.normalize import normalize_for_match


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answers: list[str]
    sources: list[str]

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def answer_hit(gold: GoldItem, quote: str) -> bool:
    """A gold answer is a substring of the quote, both normalised (NFKC, t2s, no whitespace)."""
    text = normalize_for_match(quote)
    return any(normalize_for_match(a) in text for a in gold.answers)


def first_hit_rank(gold: GoldItem, quotes: list[str]) -> int | None:
    """1-based rank of the first quote that contains a gold answer."""
    return next((i for i, q in enumerate(quotes, start=1) if answer_hit(gold, q)), None)


def reciprocal_rank(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))  # nearest rank, 1-based
    return ordered[min(len(ordered), max(1, rank)) - 1]
