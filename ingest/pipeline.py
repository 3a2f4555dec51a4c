"""Read a corpus folder into passages, listing every file that had to be skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jbqa.ingest.clean import clean_document
from jbqa.ingest.metadata import DocumentMeta, derive, merged, read_sidecar, sidecar_sha256
from jbqa.ingest.passage import Passage
from jbqa.ingest.reader import SUPPORTED_SUFFIXES, SourceText, UnreadableFile, read_source
from jbqa.ingest.split import DEFAULT_PASSAGE_CHARS, split_passages
from jbqa.progress import progress as progress_bar


@dataclass
class IngestReport:
    passages: list[Passage] = field(default_factory=list)
    sources: dict[str, SourceText] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> reason
    documents: dict[str, DocumentMeta] = field(default_factory=dict)  # file name -> title, date, ...
    sidecar_sha256: str | None = None  # of the corpus's metadata.jsonl, if it has one


def list_corpus(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {corpus_dir}")
    return sorted(
        p for p in corpus_dir.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
    )


def ingest_corpus(
    corpus_dir: Path, max_chars: int = DEFAULT_PASSAGE_CHARS, progress: bool = False
) -> IngestReport:
    """Read, clean and split every .txt/.md file of `corpus_dir`; unreadable files are skipped."""
    report = IngestReport()
    given = read_sidecar(corpus_dir)
    report.sidecar_sha256 = sidecar_sha256(corpus_dir)
    for path in progress_bar(list_corpus(corpus_dir), "Ingest", "file", progress):
        try:
            source = read_source(path, corpus_dir)
        except UnreadableFile as exc:
            report.skipped[path.name] = str(exc)
            continue
        blocks = clean_document(source.text)
        passages = split_passages(source.name, source.text, blocks, max_chars)
        if not passages:
            report.skipped[path.name] = "no text left after cleaning"
            continue
        report.sources[source.name] = source
        report.documents[source.name] = merged(derive(source.name, blocks), given.get(source.name))
        report.passages.extend(passages)
    return report
