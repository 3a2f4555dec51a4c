"""Split clean blocks into sentences, and sentences into passages."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator

from jbqa.ingest.clean import CLOSERS, TERMINALS, Block
from jbqa.ingest.passage import Passage, Sentence

DEFAULT_PASSAGE_CHARS = 220
# A longer sentence (text without full stops: a table flattened to lines, a list run on with
# commas) is cut, so that no quote, and no per-sentence cost of answering, grows with the document.
MAX_SENTENCE_CHARS = 300
_COMMAS = "，,"
_CLAUSE_MARKS = "、：:"
_LENGTH_CUT_REACH = 20  # how far back a cut by length looks for a place that splits no word
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


def _cuttable(text: str, k: int) -> bool:
    """Whether text may be cut before position k: not beside a space, not inside a Latin word or number."""
    before, after = text[k - 1], text[k]
    if before.isspace() or after.isspace():
        return False
    return not (before.isascii() and before.isalnum() and after.isascii() and after.isalnum())


def _pack(cuts: list[int], start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """The pieces between `cuts`, consecutive ones joined while they fit in `limit` characters."""
    pieces: list[tuple[int, int]] = []
    piece_start = last = start
    for cut in [*cuts, end]:
        if cut - piece_start > limit and last > piece_start:
            pieces.append((piece_start, last))
            piece_start = last
        last = cut
    pieces.append((piece_start, end))
    return pieces


def _by_length(text: str, start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
    """Pieces of at most `limit` characters, cut where no word is split; a space between Latin
    words is dropped where it is cut at (a quote neither starts nor ends with one)."""
    while end - start > limit:
        cut = start + limit
        reach = range(cut, max(start + 1, cut - _LENGTH_CUT_REACH), -1)
        at = next((k for k in reach if _cuttable(text, k) or text[k].isspace()), cut)
        yield start, at
        start = at + 1 if text[at].isspace() else at
    if start < end:
        yield start, end


def bounded_sentences(block: Block, raw: str, start: int, end: int, limit: int = MAX_SENTENCE_CHARS
                      ) -> Iterator[tuple[int, int]]:
    """block.text[start:end], one sentence, in pieces of at most `limit` characters: a longer one
    is cut at each of its line breaks, a piece still too long at its commas, then at its other
    clause marks (joining consecutive clauses while they fit), then by length."""
    text, offsets = block.text, block.offsets

    def at_lines(a: int, b: int) -> list[tuple[int, int]]:
        cuts = [k for k in range(a + 1, b) if raw.find("\n", offsets[k - 1], offsets[k]) != -1 and _cuttable(text, k)]
        return list(zip([a, *cuts], [*cuts, b], strict=True))

    def after(marks: str) -> Callable[[int, int], list[tuple[int, int]]]:
        def pieces(a: int, b: int) -> list[tuple[int, int]]:
            cuts = [k + 1 for k in range(a, b - 1) if text[k] in marks and _cuttable(text, k + 1)]
            return _pack(cuts, a, b, limit)
        return pieces

    def cut(a: int, b: int, levels: tuple[Callable[[int, int], list[tuple[int, int]]], ...]
            ) -> Iterator[tuple[int, int]]:
        if b - a <= limit:
            yield a, b
        elif not levels:
            yield from _by_length(text, a, b, limit)
        else:
            for piece in levels[0](a, b):
                yield from cut(*piece, levels[1:])

    yield from cut(start, end, (at_lines, after(_COMMAS), after(_CLAUSE_MARKS)))


class LineIndex:
    """Maps raw character offsets to 1-based line numbers."""

    def __init__(self, raw: str) -> None:
        self._starts = [0] + [i + 1 for i, ch in enumerate(raw) if ch == "\n"]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


def split_passages(
    source: str, raw: str, blocks: list[Block], max_chars: int = DEFAULT_PASSAGE_CHARS
) -> list[Passage]:
    """Group consecutive sentences into passages of about `max_chars` clean characters (a passage of
    one sentence may hold up to MAX_SENTENCE_CHARS)."""
    lines = LineIndex(raw)
    units: list[tuple[str, int, int]] = []  # sentence text, raw start, raw end
    for block in blocks:
        for s, e in (piece for bounds in sentence_bounds(block.text) for piece in bounded_sentences(block, raw, *bounds)):
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
