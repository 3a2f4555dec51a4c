"""Document frequency of question words, by substring over the normalised passages.

Counting substrings (not index tokens) keeps the statistics independent of how jieba happened to
segment the corpus, so a word is "unseen" only when the corpus really never writes it. The BM25
index holds every CJK character pair of every passage, so only the passages that contain all
pairs of a word need to be searched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np

from jbqa.index.tokenize import STOPWORDS

Postings = Callable[[str], "np.ndarray | None"]
_CJK_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")
_CACHE_LIMIT = 100_000


class TermStats:
    def __init__(self, normalized_passages: list[str], postings: Postings | None = None) -> None:
        self._texts = normalized_passages
        self._postings = postings
        self._df: dict[str, int] = {}

    def df(self, term: str) -> int:
        if term not in self._df:
            if len(self._df) >= _CACHE_LIMIT:
                self._df.clear()
            self._df[term] = self._count(term)
        return self._df[term]

    def _count(self, term: str) -> int:
        candidates = self._candidates(term)
        if candidates is None:
            return sum(1 for text in self._texts if term in text)
        return sum(1 for i in candidates.tolist() if term in self._texts[i])

    def _candidates(self, term: str) -> np.ndarray | None:
        """Passages holding every indexed character pair of `term`; None when no pair narrows it."""
        if self._postings is None:
            return None
        pairs = [p for p in _CJK_PAIR.findall(term) if p not in STOPWORDS]
        found: np.ndarray | None = None
        for pair in dict.fromkeys(pairs):
            ids = self._postings(pair)
            if ids is None:
                return np.empty(0, dtype=np.int64)
            found = ids if found is None else np.intersect1d(found, ids, assume_unique=True)
            if not len(found):
                break
        return found

    def unseen(self, term: str) -> bool:
        return self.df(term) == 0

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; unseen terms weigh the most."""
        return self._idf(self.df(term))

    def idf_unseen(self) -> float:
        """The idf of a term the corpus never writes."""
        return self._idf(0)

    def _idf(self, df: int) -> float:
        n = len(self._texts)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))
