"""Every passage cut into words with their parts of speech, once, at build time.

The reader looks at the words of dozens of sentences for every question (what kind of names and
figures a sentence holds, where an answer may start and end); segmenting them then would cost more
than the rest of answering. jieba's part-of-speech tagger (no HMM for unknown words) cuts each
passage's normalised text when the index is built, and the index keeps the word ends and codes:

    words/ends.npy      int32, end offset of each word in its passage's text, passages one after another
    words/pos.npy       uint8, the word's part-of-speech code (POS_CATEGORIES)
    words/offsets.npy   int64, where each passage's words start in the two arrays (one more than passages)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jieba.posseg as pseg
import numpy as np

# jieba part-of-speech flags folded to a few categories (a categorical model feature).
POS_CATEGORIES = ("n", "nr", "ns", "nt", "nz", "v", "a", "m", "q", "t", "d", "p", "u", "c", "r", "eng", "x", "other")
POS = {name: i for i, name in enumerate(POS_CATEGORIES)}
_PREFIXES = ("nr", "ns", "nt", "nz", "n", "v", "a", "m", "q", "t", "d", "p", "u", "c", "r")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*%?$")
PUNCTUATION = frozenset("，。；：！？、,.;:!?（）()“”\"'《》「」『』【】[]—…·- \t\n\r")


def pos_code(flag: str) -> int:
    if flag in POS:
        return POS[flag]
    for prefix in _PREFIXES:
        if flag.startswith(prefix):
            return POS[prefix]
    return POS["other"]


@dataclass(frozen=True)
class Words:
    """A text cut into words: their start offsets (plus the end), part-of-speech codes and
    whether each is punctuation only."""

    text: str
    bounds: tuple[int, ...]
    pos: tuple[int, ...]
    punct: tuple[bool, ...]

    def __len__(self) -> int:
        return len(self.pos)

    def word(self, i: int) -> str:
        return self.text[self.bounds[i] : self.bounds[i + 1]]


def cut_words(text: str) -> Words:
    """`text` (normalised) cut into words with their parts of speech."""
    ends, codes = _cut(text)
    return _words(text, ends, codes)


def _cut(text: str) -> tuple[list[int], list[int]]:
    ends, codes, end = [], [], 0
    for word, flag in pseg.lcut(text, HMM=False):
        end += len(word)
        ends.append(end)
        codes.append(POS["m"] if _NUMBER.match(word) else pos_code(flag))  # jieba tags digits as Latin
    return ends, codes


def _words(text: str, ends: list[int], codes: list[int]) -> Words:
    bounds = (0, *ends)
    punct = tuple(all(ch in PUNCTUATION for ch in text[a:b]) for a, b in zip(bounds, ends, strict=False))
    return Words(text, bounds, tuple(codes), punct)


class WordTable:
    """The words of every passage of an index (of its normalised text)."""

    def __init__(self, ends: np.ndarray, pos: np.ndarray, offsets: np.ndarray) -> None:
        self.ends = ends
        self.pos = pos
        self.offsets = offsets

    @classmethod
    def build(cls, normalized_texts: list[str]) -> WordTable:
        ends: list[int] = []
        pos: list[int] = []
        offsets = [0]
        for text in normalized_texts:
            e, p = _cut(text)
            ends.extend(e)
            pos.extend(p)
            offsets.append(len(ends))
        return cls(np.asarray(ends, np.int32), np.asarray(pos, np.uint8), np.asarray(offsets, np.int64))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def words(self, passage: int, text: str, start: int, end: int) -> Words:
        """The words of `text` = the passage's normalised text[start:end] (a sentence); a word that
        crosses either edge is cut there."""
        lo, hi = int(self.offsets[passage]), int(self.offsets[passage + 1])
        ends = self.ends[lo:hi]
        first = int(np.searchsorted(ends, start, side="right"))
        last = int(np.searchsorted(ends, end, side="left"))
        inside = [min(int(e), end) - start for e in ends[first : last + 1]]
        codes = [int(c) for c in self.pos[lo + first : lo + last + 1]]
        if not inside or inside[-1] != end - start:  # the passage ends inside the sentence: cannot happen
            return cut_words(text)
        return _words(text, inside, codes)

    def save(self, directory: Path) -> None:
        directory.mkdir()
        np.save(directory / "ends.npy", self.ends, allow_pickle=False)
        np.save(directory / "pos.npy", self.pos, allow_pickle=False)
        np.save(directory / "offsets.npy", self.offsets, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> WordTable:
        return cls(*(np.load(directory / f"{name}.npy", allow_pickle=False) for name in ("ends", "pos", "offsets")))

    def validate(self, text_lengths: list[int]) -> None:
        """Raise ValueError unless the table cuts texts of exactly these lengths into words."""
        offsets, ends = self.offsets, self.ends
        if offsets.ndim != 1 or len(offsets) != len(text_lengths) + 1 or offsets[0] != 0 or offsets[-1] != len(ends):
            raise ValueError("word offsets do not match the passages")
        if len(self.pos) != len(ends) or (len(self.pos) and int(self.pos.max()) >= len(POS_CATEGORIES)):
            raise ValueError("word codes do not match the words")
        if np.any(np.diff(offsets) <= 0):
            raise ValueError("a passage has no words")
        last = ends[offsets[1:] - 1]
        if not np.array_equal(last, np.asarray(text_lengths, dtype=last.dtype)):
            raise ValueError("words do not end where their passages end")
        steps = np.diff(ends)
        starts = np.zeros(len(ends), dtype=bool)
        starts[offsets[:-1]] = True
        if np.any(steps[~starts[1:]] <= 0) or np.any(ends[starts] <= 0):
            raise ValueError("word ends are not increasing within a passage")

