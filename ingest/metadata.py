"""What a person cites a document by: title, date, publisher, URL.

Derived from the text where it can be (the heading that opens the document, the first full date
it gives), and set or overridden by the corpus's sidecar file `metadata.jsonl`: one JSON object per
line, `{"file": "a.txt", "title": "...", "date": "2024-01-31", "publisher": "...", "url": "..."}`,
every field but `file` optional. Dates are ISO: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from jbqa.ingest.clean import Block

SIDECAR = "metadata.jsonl"
TITLE_WITHIN_CHARS = 80  # a heading that starts this close to the top titles the document
MAX_TITLE_CHARS = 40
_ISO_DATE = re.compile(r"^\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?$")
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
                date = f"{year}-{int(month):02d}-{int(day):02d}"
                break
    return DocumentMeta(file, title, date)


def read_sidecar(corpus_dir: Path) -> dict[str, DocumentMeta]:
    """The sidecar's entries by file name; {} when there is none."""
    path = corpus_dir / SIDECAR
    if not path.is_file():
        return {}
    entries: dict[str, DocumentMeta] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(f"{path}: cannot be read ({exc})") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("file"), str):
                raise ValueError("each line is an object with a \"file\"")
            unknown = set(row) - {f.name for f in fields(DocumentMeta)}
            if unknown:
                raise ValueError(f"unknown fields {sorted(unknown)}")
            if any(v is not None and not isinstance(v, str) for v in row.values()):
                raise ValueError("every field is text")
            if row.get("date") is not None and not _ISO_DATE.match(row["date"]):
                raise ValueError(f"date {row['date']!r} is not YYYY-MM-DD, YYYY-MM or YYYY")
        except ValueError as exc:
            raise MetadataError(f"{path}:{number}: {exc}") from exc
        entries[row["file"]] = DocumentMeta.from_dict(row)
    return entries


def sidecar_sha256(corpus_dir: Path) -> str | None:
    path = corpus_dir / SIDECAR
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def merged(derived: DocumentMeta, given: DocumentMeta | None) -> DocumentMeta:
    """The derived metadata with every field the sidecar sets put in its place."""
    if given is None:
        return derived
    return replace(derived, **{k: v for k, v in given.to_dict().items() if v is not None and k != "file"})
