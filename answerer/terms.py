"""Document frequency of question words, by substring over the normalised passages.

Counting substrings (not index tokens) keeps the statistics independent of how jieba happened to
segment the corpus, so a word is "unseen" only when the corpus really never writes it.
"""

from __future__ import annotations

import math


class TermStats:
    def __init__(self, normalized_passages: list[str]) -> None:
        self._texts = normalized_passages
        self._df: dict[str, int] = {}

    def df(self, term: str) -> int:
        if term not in self._df:
            self._df[term] = sum(1 for text in self._texts if term in text)
        return self._df[term]

    def unseen(self, term: str) -> bool:
        return self.df(term) == 0

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; unseen terms weigh the most."""
        n, df = len(self._texts), self.df(term)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))
