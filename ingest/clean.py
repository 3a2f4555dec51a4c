"""Undo PDF-to-text damage while remembering, for every clean character, where it was in the raw file.

Two levels:
- `clean_inline` normalises a raw span that holds running text: joins lines broken mid-sentence
  (also across blank lines), drops whitespace between CJK characters and control characters (escape
  codes; line breaks and tabs count as whitespace), rejoins Latin words hyphenated
  over a line break and collapses lines whose every run is doubled (`国金中心国金中心`).
- `clean_document` finds the layout: photo captions with their credits, headings and vertical
  one-character lines (each kept as a block of its own, never glued into running text) and running
  text, and cleans each block inline.

Cleaning a raw slice that holds one sentence gives back exactly that sentence's clean text.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

TERMINALS = "。！？!?；;…"
CLOSERS = "”’」』）)】》\"'"
_CAPTION = re.compile(
    r"摄\s*[/／]|[/／]\s*摄|摄影\s*[:：]|图片除署名外|图片来源|^图为|(效果|示意|鸟瞰)图$|\s摄$"
)
_HEADING_MAX_CHARS = 40
_UNWRAPPED_HEADING_MAX_CHARS = 200  # longer, a line without a full stop is running text, not a title
_DOUBLED_LINE_MAX = 400
_TWO_PART_TITLE = re.compile(r"[\u4e00-\u9fff”] +[\u4e00-\u9fff“]")
_WRAPPED_MEDIAN_MAX = 45  # median line length of a document wrapped at a column width
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Block:
    """A run of clean text with the raw offset of each of its characters."""

    text: str
    offsets: tuple[int, ...]
    kind: str  # "text", "heading" or "caption"
    raw_end: int  # end of the block's raw span (past a doubled run's second copy)


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def undouble(line: str) -> list[int] | None:
    """Indices to keep when every run of `line` is printed twice (`江北区江北区““五社联动五社联动””`).

    Returns None for an ordinary line. Whitespace between runs passes through once. Only short
    lines are examined (doubling comes from overprinted captions and titles), which also keeps
    this quadratic search cheap on a huge single-line file.
    """
    if len(line) > _DOUBLED_LINE_MAX:
        return None
    keep: list[int] = []
    i, n, pairs = 0, len(line), 0
    while i < n:
        if line[i].isspace():
            keep.append(i)
            i += 1
            continue
        space = _SPACE.search(line, i)
        longest = min((n - i) // 2, (space.start() if space else n) - i)  # a run holds no whitespace
        k = line.find(line[i], i + 1, i + longest + 1) - i  # the copy starts with the run's first character
        while k > 0 and not line.startswith(line[i : i + k], i + k):
            k = line.find(line[i], i + k + 1, i + longest + 1) - i
        if k <= 0:
            return None
        keep.extend(range(i, i + k))
        i += 2 * k
        pairs += 1
    cjk = sum(1 for j in keep if "\u4e00" <= line[j] <= "\u9fff")
    return keep if pairs >= 1 and cjk >= 2 else None  # a number like 2020 is no doubled run


def _line_chars(raw: str, start: int, end: int) -> list[int]:
    """Raw positions of the characters of raw[start:end] (one line, or a part of one) after
    undoubling, which looks at the whole line: a part is undoubled as it is in its line. The line's
    ends are looked for no further than a doubled line can reach, so a part of a huge line costs
    only its own length."""
    line_start, line_end = _whole_line(raw, start, end)
    if line_start is None or line_end is None:
        return list(range(start, end))
    kept = undouble(raw[line_start:line_end])
    if kept is None:
        return list(range(start, end))
    return [line_start + j for j in kept if start <= line_start + j < end]


def _whole_line(raw: str, start: int, end: int) -> tuple[int | None, int | None]:
    """(start, end) of the line around raw[start:end], each None when it is over _DOUBLED_LINE_MAX away."""
    low = max(0, start - _DOUBLED_LINE_MAX - 1)
    found = raw.rfind("\n", low, start)
    line_start = found + 1 if found != -1 else (0 if low == 0 else None)
    high = min(len(raw), end + _DOUBLED_LINE_MAX + 1)
    found = raw.find("\n", end, high)
    line_end = found if found != -1 else (len(raw) if high == len(raw) else None)
    return line_start, line_end


def clean_inline(raw: str, start: int = 0, end: int | None = None) -> tuple[str, list[int]]:
    """Clean raw[start:end] as running text; returns (text, raw offset of each character)."""
    end = len(raw) if end is None else end
    positions: list[int] = []
    line_start = start
    while line_start <= end:
        nl = raw.find("\n", line_start, end)
        line_end = end if nl == -1 else nl
        positions.extend(_line_chars(raw, line_start, line_end))
        if nl == -1:
            break
        positions.append(nl)
        line_start = nl + 1

    out: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(positions):
        ch = raw[positions[i]]
        if is_control(ch):  # terminal escape codes and the like: in the raw file only
            i += 1
            continue
        if not ch.isspace():
            out.append(ch)
            offsets.append(positions[i])
            i += 1
            continue
        j = i
        while j < len(positions) and raw[positions[j]].isspace():
            j += 1
        if out and j < len(positions):
            before, after = out[-1], raw[positions[j]]
            broken = any(raw[positions[k]] == "\n" for k in range(i, j))
            hyphenated = (
                broken and before == "-" and len(out) > 1 and out[-2].isascii()
                and out[-2].isalpha() and after.isascii() and after.islower()
            )
            if hyphenated:
                out.pop()
                offsets.pop()
            elif _is_ascii_alnum(before) and _is_ascii_alnum(after):
                if not (broken and before.isdigit() and after.isdigit()):
                    out.append(" ")
                    offsets.append(positions[i])
        i = j
    return "".join(out), offsets


def is_control(ch: str) -> bool:
    """A C0 or C1 control character other than whitespace (line breaks, tabs): ESC, BEL, CSI, ..."""
    code = ord(ch)
    return (code < 0x20 or 0x7F <= code <= 0x9F) and not ch.isspace()


def clean_text(raw: str) -> str:
    """Inline-clean a raw slice (used to check quotes against their raw spans)."""
    return clean_inline(raw)[0]


def _ends_sentence(text: str) -> bool:
    stripped = text.rstrip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in TERMINALS


def clean_document(raw: str) -> list[Block]:
    """Split a raw document into clean blocks: running text, and headings and captions apart."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in raw.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    shown = [_shown(raw, s, e) for s, e in spans]
    kinds = _classify(shown)
    for i, (s, e) in enumerate(spans):  # overprinted (doubled) lines are titles or captions
        if kinds[i] == "text" and undouble(raw[s:e]) is not None:
            kinds[i] = "heading"

    blocks: list[Block] = []
    run: list[int] = []  # line indices of the current text block

    def flush() -> None:
        if run:
            _add_block(blocks, raw, spans[run[0]][0], spans[run[-1]][1], "text")
            run.clear()

    i = 0
    while i < len(spans):
        kind = kinds[i]
        if kind == "text":
            run.append(i)
        elif kind in ("caption", "heading", "vertical"):
            flush()
            j = i
            if kind == "vertical":
                while j + 1 < len(spans) and kinds[j + 1] == "vertical":
                    j += 1
            _add_block(blocks, raw, spans[i][0], spans[j][1], "caption" if kind == "caption" else "heading")
            i = j
        i += 1
    flush()
    return blocks


def _shown(raw: str, start: int, end: int) -> str:
    return "".join(raw[p] for p in _line_chars(raw, start, end) if not is_control(raw[p])).strip()


def _classify(shown: list[str]) -> list[str]:
    """Label each line blank, caption, vertical, heading or text."""
    kinds = ["blank" if not s else "text" for s in shown]
    for i, s in enumerate(shown):
        if s and _CAPTION.search(s):
            kinds[i] = "caption"
    # Vertical text: three or more consecutive one-character lines.
    i = 0
    while i < len(shown):
        j = i
        while j < len(shown) and kinds[j] == "text" and len(shown[j].replace(" ", "")) == 1:
            j += 1
        if j - i >= 3:
            kinds[i:j] = ["vertical"] * (j - i)
        i = max(j, i + 1)
    # Documents whose lines are whole paragraphs (not wrapped at a column width): there a line
    # that stops without punctuation before a blank line is a heading, whatever its length.
    lengths = sorted(len(s) for s, k in zip(shown, kinds) if k == "text")
    unwrapped = bool(lengths) and lengths[len(lengths) // 2] > _WRAPPED_MEDIAN_MAX
    # The nearest text lines around each line give its column width: the three after it are
    # found once, backwards; the three before it are kept while going forwards (linear time).
    following: list[list[int]] = [[] for _ in shown]
    upcoming: list[int] = []
    for i in range(len(shown) - 1, -1, -1):
        following[i] = upcoming[:3]
        if kinds[i] == "text":
            upcoming = [i, *upcoming[:2]]
    preceding: deque[str] = deque(maxlen=3)
    closed = True  # the text before this line ended a sentence (or there is none)
    for i, s in enumerate(shown):
        if kinds[i] in ("blank", "caption"):
            continue
        if kinds[i] == "vertical":
            closed = True
            continue
        column = [*preceding, *(shown[j] for j in following[i])]
        if closed and _is_heading(shown, kinds, i, unwrapped, column):
            kinds[i] = "heading"
            closed = True
        else:
            closed = _ends_sentence(s)
        if kinds[i] == "text":
            preceding.append(s)
    return kinds


def _is_heading(shown: list[str], kinds: list[str], i: int, unwrapped: bool, column_lines: list[str]) -> bool:
    """A line standing apart after a finished sentence: an unfinished paragraph line (of at most
    _UNWRAPPED_HEADING_MAX_CHARS) in an unwrapped document, else a short line much shorter than
    its column (`column_lines`: the three text lines before it and the three after)."""
    line = shown[i]
    if any(ch in TERMINALS for ch in line):  # a finished sentence inside: running text, no title
        return False
    blank_before = i == 0 or kinds[i - 1] in ("blank", "caption")
    blank_after = i + 1 >= len(shown) or kinds[i + 1] in ("blank", "caption")
    if unwrapped:
        return blank_after and len(line) <= _UNWRAPPED_HEADING_MAX_CHARS
    if "，" in line or len(line) > _HEADING_MAX_CHARS:
        return False
    if not (blank_before or blank_after):
        return False
    column = max((len(s) for s in column_lines), default=0)
    # A title in two parts ("一手好牌用心打 营造金融强磁场") may be nearly as wide as its column.
    # A page header or title may also run wider than the column it stands in.
    factor = 0.8 if _TWO_PART_TITLE.search(line) else 0.5
    return len(line) < factor * column or len(line) > 1.15 * column or column == 0


def _add_block(blocks: list[Block], raw: str, start: int, end: int, kind: str) -> None:
    text, offsets = clean_inline(raw, start, end)
    if text:
        blocks.append(Block(text, tuple(offsets), kind, _rstripped_end(raw, end)))


def _rstripped_end(raw: str, end: int) -> int:
    """len(raw[:end].rstrip()), without copying the text before `end`."""
    while end > 0 and raw[end - 1].isspace():
        end -= 1
    return end
