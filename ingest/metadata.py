"""What a person cites a document by: title, date (and its kind), publisher, URL.

Derived from the text where it can be (the heading that opens the document, the first full date
it gives, as an "as of" date), and set or overridden by the corpus's sidecar file `metadata.jsonl`:
one JSON object per line, `{"file": "a.txt", "title": "...", "date": "2024-01-31", "date_kind":
"published", "publisher": "...", "url": "https://..."}`, every field but `file` optional. Dates are
real ISO calendar dates: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`; `date_kind` is `published` (the day it
came out) or `as_of` (the latest time its text speaks of, inferred from it); URLs are http(s) only.
The sidecar is read as corpus files are: a regular file inside the corpus folder, size-capped,
read no further than the cap.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import stat
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jbqa.ingest.clean import Block

SIDECAR = "metadata.jsonl"
TITLE_WITHIN_CHARS = 80  # a heading that starts this close to the top titles the document
MAX_TITLE_CHARS = 40
MAX_SIDECAR_BYTES = 4 * 1024 * 1024  # some thousands of documents' lines
MAX_FIELD_CHARS = {"file": 255, "title": 300, "publisher": 200, "url": 2000}
DATE_KINDS = ("published", "as_of")
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_FULL_DATE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")


class MetadataError(ValueError):
    """A sidecar file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class DocumentMeta:
    file: str
    title: str | None = None
    date: str | None = None  # ISO: YYYY-MM-DD, YYYY-MM or YYYY
    publisher: str | None = None
    url: str | None = None
    date_kind: str | None = None  # "published" or "as_of"; None: not stated

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentMeta:
        return cls(str(data["file"]), *(data.get(f.name) for f in fields(cls)[1:]))


def derive(file: str, blocks: list[Block]) -> DocumentMeta:
    """Title: a heading that opens the document, else its opening words; date: its first full date."""
    title = None
    if blocks:
        first = blocks[0]
        if first.kind == "heading" and first.offsets[0] < TITLE_WITHIN_CHARS:
            title = first.text
        else:
            opening = first.text.split("。")[0]
            title = opening if len(opening) <= MAX_TITLE_CHARS else opening[:MAX_TITLE_CHARS] + "…"
    date = None
    for block in blocks:
        found = _FULL_DATE.search(block.text)
        if found:
            year, month, day = found.groups()
            if 1 <= int(month) <= 12 and 1 <= int(day) <= 31:
                iso = f"{year}-{int(month):02d}-{int(day):02d}"
                if valid_date(iso):
                    date = iso
                    break
    return DocumentMeta(file, title, date, date_kind="as_of" if date else None)


def valid_date(text: str) -> bool:
    """A real calendar date as YYYY-MM-DD, YYYY-MM or YYYY (2024-02-30 is not; nothing may trail it)."""
    found = _ISO_DATE.fullmatch(text)
    if found is None:
        return False
    year, month, day = (int(g) if g else 1 for g in found.groups())
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def valid_url(text: str) -> bool:
    """An absolute http(s) URL with a host, and no spaces or control characters in it."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_row(row: object) -> dict[str, Any]:
    if not isinstance(row, dict) or not isinstance(row.get("file"), str):
        raise ValueError("each line is an object with a \"file\"")
    unknown = set(row) - {f.name for f in fields(DocumentMeta)}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    if any(v is not None and not isinstance(v, str) for v in row.values()):
        raise ValueError("every field is text")
    for name, limit in MAX_FIELD_CHARS.items():
        if row.get(name) is not None and len(row[name]) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
    if row.get("date") is not None and not valid_date(row["date"]):
        raise ValueError(f"date {row['date']!r} is not a calendar date as YYYY-MM-DD, YYYY-MM or YYYY")
    if row.get("date_kind") is not None and row["date_kind"] not in DATE_KINDS:
        raise ValueError(f"date_kind {row['date_kind']!r} is not one of {', '.join(DATE_KINDS)}")
    if row.get("url") is not None and not valid_url(row["url"]):
        raise ValueError(f"url {row['url'][:80]!r} is not an http:// or https:// address")
    return row


def _sidecar_bytes(corpus_dir: Path) -> tuple[Path, bytes] | None:
    """The sidecar's bytes, read as corpus files are; None when there is none."""
    path = corpus_dir / SIDECAR
    if not os.path.lexists(path):
        return None
    try:
        real = path.resolve(strict=True)
        if corpus_dir.resolve() not in real.parents:
            raise MetadataError(f"{path}: a link to a file outside the corpus folder")
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise MetadataError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise MetadataError(f"{path}: not a regular file")
        if info.st_size > MAX_SIDECAR_BYTES:
            raise MetadataError(f"{path}: too large ({info.st_size} bytes, limit {MAX_SIDECAR_BYTES})")
        chunks, size = [], 0
        while size <= MAX_SIDECAR_BYTES:  # bounded, should the file grow meanwhile
            chunk = os.read(fd, min(1 << 20, MAX_SIDECAR_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise MetadataError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)
    if size > MAX_SIDECAR_BYTES:
        raise MetadataError(f"{path}: too large (more than {MAX_SIDECAR_BYTES} bytes)")
    return path, b"".join(chunks)


def read_sidecar(corpus_dir: Path) -> dict[str, DocumentMeta]:
    """The sidecar's entries by file name; {} when there is none."""
    found = _sidecar_bytes(corpus_dir)
    if found is None:
        return {}
    path, data = found
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    entries: dict[str, DocumentMeta] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = _check_row(json.loads(line))
        except ValueError as exc:  # json.JSONDecodeError too
            raise MetadataError(f"{path}:{number}: {exc}") from exc
        entries[row["file"]] = DocumentMeta.from_dict(row)
    return entries


def sidecar_sha256(corpus_dir: Path) -> str | None:
    """The SHA-256 of the sidecar's bytes; None without one, "unreadable" when it cannot be read
    (never an index's: checking a corpus finds it changed, and building names what is wrong)."""
    try:
        found = _sidecar_bytes(corpus_dir)
    except MetadataError:
        return "unreadable"
    return hashlib.sha256(found[1]).hexdigest() if found else None


def merged(derived: DocumentMeta, given: DocumentMeta | None) -> DocumentMeta:
    """The derived metadata with every field the sidecar sets put in its place; a date the sidecar
    sets keeps only the kind the sidecar gives it."""
    if given is None:
        return derived
    changes = {k: v for k, v in given.to_dict().items() if v is not None and k != "file"}
    if given.date is not None:
        changes["date_kind"] = given.date_kind
    return replace(derived, **changes)
