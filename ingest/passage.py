"""The one record that flows from ingest through the index to answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage.

    `start`/`end` index the passage's clean text; `char_start`/`char_end` index the raw
    source file (0-based, end-exclusive); `line_start`/`line_end` are 1-based, inclusive.
    """

    start: int
    end: int
    char_start: int
    char_end: int
    line_start: int
    line_end: int


@dataclass(frozen=True)
class Passage:
    """Sentence-aligned clean text that remembers where it came from in its source file."""

    id: str
    source: str
    text: str
    char_start: int
    char_end: int
    line_start: int
    line_end: int
    sentences: tuple[Sentence, ...]

    def sentence_text(self, sentence: Sentence) -> str:
        return self.text[sentence.start : sentence.end]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sentences"] = [list(asdict(s).values()) for s in self.sentences]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        fields = dict(data)
        fields["sentences"] = tuple(Sentence(*row) for row in data["sentences"])
        return cls(**fields)
