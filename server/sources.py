"""Line ranges of the indexed source files, in the line numbering the answers use."""

from __future__ import annotations

from dataclasses import dataclass


class LineRangeError(ValueError):
    """A line range that does not fit the file; `field` names the bad bound ("start" or "end")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LineSlice:
    line_start: int
    line_end: int
    char_start: int
    char_end: int
    text: str


class SourceLines:
    """A raw file split at "\\n" (as ingest counts lines); each line keeps its line break."""

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        if len(starts) > 1 and starts[-1] == len(text):
            starts.pop()  # a final line break does not open another line
        self._starts = starts

    @property
    def total_lines(self) -> int:
        return len(self._starts)

    def lines(self, start: int | None = None, end: int | None = None) -> LineSlice:
        """Lines start..end (1-based, inclusive; end is clipped to the last line)."""
        start = 1 if start is None else start
        end = self.total_lines if end is None else min(end, self.total_lines)
        if start < 1 or start > self.total_lines:
            # The value is not echoed: it may be thousands of digits long.
            raise LineRangeError("start", f"start must be between 1 and {self.total_lines} (the file's last line)")
        if end < start:
            raise LineRangeError("end", f"end ({end}) must not be before start ({start})")
        char_start = self._starts[start - 1]
        char_end = self._starts[end] if end < self.total_lines else len(self.text)
        return LineSlice(start, end, char_start, char_end, self.text[char_start:char_end])
