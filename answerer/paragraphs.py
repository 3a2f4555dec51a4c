"""The cleaned paragraphs of each indexed document: what an answer is cited by (第 N 段) and what
the full-document view shows. Cleaned once per document, when first needed."""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

from jbqa.ingest.clean import Block, clean_document

CACHED_DOCUMENTS = 32


class Paragraphs:
    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources
        self.blocks = lru_cache(maxsize=CACHED_DOCUMENTS)(self._clean)

    def _clean(self, name: str) -> tuple[Block, ...]:
        return tuple(b for b in clean_document(self.sources[name]) if b.offsets)

    def number(self, name: str, raw_offset: int) -> int:
        """1-based number of the paragraph (heading, text or caption) that holds raw_offset, or the
        last one that starts before it."""
        starts = [b.offsets[0] for b in self.blocks(name)]
        return max(1, bisect_right(starts, raw_offset))
