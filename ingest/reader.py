"""Read a text file whatever its encoding, or say clearly why it cannot be read."""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md")
MAX_FILE_BYTES = 50 * 1024 * 1024

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


class UnreadableFile(Exception):
    """A file that is skipped; the message says why."""


@dataclass(frozen=True)
class SourceText:
    name: str
    text: str
    encoding: str
    sha256: str


def read_source(path: Path, root: Path | None = None) -> SourceText:
    """Decode `path` (UTF-8 with or without BOM, UTF-16/32 with BOM or plain UTF-16, GB18030).

    Only a regular file is read, and with `root`, only one whose real path lies inside `root` (a
    link out of the corpus folder is skipped). The size is checked before anything is read.
    """
    try:
        real = path.resolve(strict=True)
        if root is not None and root.resolve() not in real.parents:
            raise UnreadableFile("a link to a file outside the corpus folder")
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer. O_NOFOLLOW:
        # a link put in place of the checked path since is refused, not followed.
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError as exc:
        raise UnreadableFile("file vanished before it could be read") from exc
    except OSError as exc:
        raise UnreadableFile(f"cannot be read: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UnreadableFile("cannot be read: a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile("not a regular file (a FIFO, device or socket)")
        if info.st_size > MAX_FILE_BYTES:
            raise UnreadableFile(f"too large ({info.st_size} bytes, limit {MAX_FILE_BYTES})")
        data = _read_at_most(fd, MAX_FILE_BYTES + 1)  # bounded, should the file grow meanwhile
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"too large (more than {MAX_FILE_BYTES} bytes)")
    if not data.strip():
        raise UnreadableFile("empty file")
    text, encoding = decode_bytes(data)
    return SourceText(path.name, text, encoding, hashlib.sha256(data).hexdigest())


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = os.read(fd, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name) or raise UnreadableFile."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data, encoding), encoding
    for encoding in ("utf-8", *_utf16_guess(data), REPAIRED_UTF8, "gb18030"):
        if encoding == REPAIRED_UTF8:
            repaired = _utf8_with_few_invalid_bytes(data)
            if repaired:
                return repaired
            continue
        if encoding == "gb18030" and b"\x00" in data:
            raise UnreadableFile("binary file (contains NUL bytes)")
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not text.strip():
            raise UnreadableFile("empty file (only whitespace)")
        if _looks_like_text(text) and (encoding == "utf-8" or _mostly_script(text)):
            return text, encoding
    raise UnreadableFile("not text in UTF-8, UTF-16 or GB18030 (binary or unknown encoding)")


REPAIRED_UTF8 = "utf-8 (repaired)"
MAX_INVALID_SHARE = 0.001  # of the bytes (and at least a few): more, and the file is not damaged UTF-8
MIN_INVALID_ALLOWED = 8


def _utf8_with_few_invalid_bytes(data: bytes) -> tuple[str, str] | None:
    """UTF-8 with a few invalid bytes, each replaced by U+FFFD; the encoding says how many."""
    invalid = 0

    def count(error: UnicodeError) -> tuple[str, int]:
        nonlocal invalid
        assert isinstance(error, UnicodeDecodeError)
        invalid += error.end - error.start
        return "\ufffd", error.end

    codecs.register_error("jbqa-count", count)
    text = data.decode("utf-8", errors="jbqa-count")
    if invalid > max(MIN_INVALID_ALLOWED, MAX_INVALID_SHARE * len(data)) or not _looks_like_text(text):
        return None
    return text, f"utf-8 ({invalid} invalid bytes replaced)"


def _mostly_script(text: str) -> bool:
    """Guessed decodings must read as Chinese or Latin text, not as a scatter of symbols."""
    sample = text[:20_000]
    readable = sum(1 for ch in sample if ch.isspace() or ch.isascii() or "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")
    return readable >= 0.9 * len(sample)


def _strict(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"invalid {encoding}: {exc.reason} at byte {exc.start}") from exc
    if not text.strip():
        raise UnreadableFile("empty file (only whitespace)")
    if not _looks_like_text(text):
        raise UnreadableFile(f"decodes as {encoding} but is not text")
    return text


def _utf16_guess(data: bytes) -> list[str]:
    """UTF-16 without a BOM: its NUL bytes (from ASCII characters such as line breaks) all fall
    in odd positions (little-endian) or all in even ones (big-endian)."""
    if len(data) % 2 or b"\x00" not in data:
        return []
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if odd and not even:
        return ["utf-16-le"]
    if even and not odd:
        return ["utf-16-be"]
    return ["utf-16-le", "utf-16-be"]


def _looks_like_text(text: str) -> bool:
    """Reject decodings full of control or unassigned characters."""
    if not text.strip():
        return False
    sample = text[:100_000]
    bad = sum(
        1
        for ch in sample
        if (unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs") and ch not in "\n\r\t\f\v")
    )
    return bad <= len(sample) * 0.01
