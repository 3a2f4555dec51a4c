"""Split clean blocks into sentences, and sentences into passages."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from jbqa.ingest.clean import CLOSERS, TERMINALS, Block
from jbqa.ingest.passage import Passage, Sentence

DEFAULT_PASSAGE_CHARS = 220
_WORDY = re.compile(r"\w")


def sentence_bounds(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence: ends after 。！？；… and any closing quotes that follow."""
    start, i, n = 0, 0, len(text)
    while i < n:
        if text[i] in TERMINALS:
            j = i + 1
            while j < n and (text[j] in TERMINALS or text[j] in CLOSERS):
                j += 1
            yield start, j
            start = i = j
        else:
            i += 1
    if start < n:
        yield start, n


class LineIndex:
    """Maps raw character offsets to 1-based line numbers."""

    def __init__(self, raw: str) -> None:
        self._starts = [0] + [i + 1 for i, ch in enumerate(raw) if ch == "\n"]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


def split_passages(
    source: str, raw: str, blocks: list[Block], max_chars: int = DEFAULT_PASSAGE_CHARS
) -> list[Passage]:
    """Group consecutive sentences into passages of about `max_chars` clean characters."""
    lines = LineIndex(raw)
    units: list[tuple[str, int, int]] = []  # sentence text, raw start, raw end
    for block in blocks:
        for s, e in sentence_bounds(block.text):
            text = block.text[s:e]
            if _WORDY.search(text):  # a run of dashes or dots alone is no sentence
                # The block's last sentence ends where the block does: past the second copy of a
                # doubled run, so that cleaning its raw span undoubles it again.
                raw_end = block.raw_end if e == len(block.text) else block.offsets[e - 1] + 1
                units.append((text, block.offsets[s], raw_end))

    passages: list[Passage] = []
    group: list[tuple[str, int, int]] = []

    def flush() -> None:
        if not group:
            return
        sentences, pos, parts = [], 0, []
        for text, cs, ce in group:
            sentences.append(Sentence(pos, pos + len(text), cs, ce, lines.line(cs), lines.line(ce - 1)))
            parts.append(text)
            pos += len(text)
        passages.append(
            Passage(
                id=f"{source}#{len(passages)}",
                source=source,
                text="".join(parts),
                char_start=group[0][1],
                char_end=group[-1][2],
                line_start=sentences[0].line_start,
                line_end=sentences[-1].line_end,
                sentences=tuple(sentences),
            )
        )
        group.clear()

    size = 0
    for unit in units:
        if group and size + len(unit[0]) > max_chars:
            flush()
            size = 0
        group.append(unit)
        size += len(unit[0])
    flush()
    return passages
