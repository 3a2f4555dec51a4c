"""Ingest under bad input: every bad file is skipped with its reason, and no good text is lost.

The fault folder holds three bundled articles (in UTF-8, GB18030 and UTF-16), an empty file, a
binary file, one huge single-line file, and a file that is deleted while the run reaches it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import jbqa.ingest.pipeline
from jbqa.cli import main as jbqa_main
from jbqa.config import BUNDLED_CORPUS
from jbqa.index.store import load_index
from jbqa.ingest import IngestReport, Passage, ingest_corpus
from jbqa.ingest.reader import UnreadableFile, read_source

# Each encoded copy has a bundled article as its UTF-8 original.
ORIGINALS = {
    "a_utf8.txt": ("000_623d10d81843cc6a.txt", "utf-8"),
    "b_gb18030.txt": ("001_eb47fa1761d187f3.txt", "gb18030"),
    "c_utf16.md": ("002_73f7aa93d5783d0e.txt", "utf-16"),  # Python's utf-16 writes a byte order mark
}
VANISHING = "e_vanishing.txt"
HUGE = "f_huge_one_line.txt"
SKIP_REASONS = {
    "d_empty.txt": "empty file",
    "g_binary.txt": "binary file (contains NUL bytes)",
    VANISHING: "file vanished before it could be read",
}
GOOD = [*ORIGINALS, HUGE]
HUGE_BYTES = 8 * 1024 * 1024
# The build tests tokenise every passage; a whole 8 MB line costs about a minute of jieba on two
# cores, so they use a 1 MB line. The 8 MB line goes through ingest itself (test below).
BUILD_HUGE_BYTES = 1024 * 1024
INGEST_SECONDS_LIMIT = 60  # about 2 s here: a generous bound that still catches quadratic work


def one_line_of_chinese(size: int) -> bytes:
    """About `size` bytes of UTF-8 Chinese text without a single line break (whole characters only)."""
    unit = "".join(
        (BUNDLED_CORPUS / name).read_text(encoding="utf-8") for name in sorted(p.name for p in BUNDLED_CORPUS.iterdir())
    )
    unit = "".join(unit.split())  # no line breaks, no spaces: one line
    encoded = unit.encode("utf-8")
    data = encoded * (size // len(encoded) + 1)
    return data[:size].decode("utf-8", errors="ignore").encode("utf-8")


def write_fault_folder(folder: Path, huge_bytes: int) -> Path:
    folder.mkdir(parents=True)
    for name, (original, encoding) in ORIGINALS.items():
        (folder / name).write_bytes((BUNDLED_CORPUS / original).read_text(encoding="utf-8").encode(encoding))
    (folder / "d_empty.txt").write_bytes(b"")
    (folder / VANISHING).write_bytes((BUNDLED_CORPUS / "004_580be5a15073a97d.txt").read_bytes())
    (folder / HUGE).write_bytes(one_line_of_chinese(huge_bytes))
    (folder / "g_binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 64)
    return folder


@pytest.fixture
def vanish_on_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Delete VANISHING at the moment the run goes to read it; returns the names the run tried to read."""
    real = jbqa.ingest.pipeline.read_source
    tried: list[str] = []

    def read_after_deleting(path: Path, root: Path | None = None) -> object:
        tried.append(path.name)
        if path.name == VANISHING:
            path.unlink()
        return real(path, root)

    monkeypatch.setattr(jbqa.ingest.pipeline, "read_source", read_after_deleting)
    return tried


def shape(passages: list[Passage]) -> list[tuple[object, ...]]:
    """A passage as text and offsets, without the file name that its id and source carry."""
    return [
        (p.id.rsplit("#", 1)[1], p.text, p.char_start, p.char_end, p.line_start, p.line_end, p.sentences)
        for p in passages
    ]


def of_source(report: IngestReport, name: str) -> list[Passage]:
    return [p for p in report.passages if p.source == name]


def test_ingest_skips_each_bad_file_with_its_reason_and_keeps_every_good_one(
    tmp_path: Path, vanish_on_read: list[str]
) -> None:
    folder = write_fault_folder(tmp_path / "corpus", HUGE_BYTES)
    assert len((folder / HUGE).read_bytes()) > HUGE_BYTES - 4
    assert (folder / HUGE).read_bytes().count(b"\n") == 0

    started = time.monotonic()
    report = ingest_corpus(folder)
    elapsed = time.monotonic() - started

    assert VANISHING in vanish_on_read and not (folder / VANISHING).exists()
    assert report.skipped == SKIP_REASONS
    assert sorted(report.sources) == sorted(GOOD)
    for name in GOOD:
        assert of_source(report, name), f"{name} gave no passages"
    assert {p.source for p in report.passages} == set(GOOD)
    for name, (_, encoding) in ORIGINALS.items():
        assert report.sources[name].encoding.replace("-sig", "") == encoding
    assert elapsed < INGEST_SECONDS_LIMIT


def test_the_huge_single_line_file_is_split_into_passages_on_its_one_line(
    tmp_path: Path, vanish_on_read: list[str]
) -> None:
    folder = write_fault_folder(tmp_path / "corpus", HUGE_BYTES)
    report = ingest_corpus(folder)
    huge = of_source(report, HUGE)
    text = report.sources[HUGE].text
    assert len(huge) > 1000
    assert all((p.line_start, p.line_end) == (1, 1) for p in huge)
    assert all(text[p.char_start : p.char_end].strip() for p in huge)
    # The passages cover the line in order, without overlaps, up to its end.
    assert all(a.char_end <= b.char_start for a, b in zip(huge, huge[1:]))
    assert huge[-1].char_end >= len(text) - 300
    covered = sum(len(p.text) for p in huge)
    assert covered > 0.95 * len(text)


def test_other_encodings_give_the_same_passages_as_their_utf8_original(
    tmp_path: Path, vanish_on_read: list[str]
) -> None:
    report = ingest_corpus(write_fault_folder(tmp_path / "corpus", 1024))
    originals = ingest_corpus(BUNDLED_CORPUS)
    for name, (original, _) in ORIGINALS.items():
        assert report.sources[name].text == originals.sources[original].text
        assert shape(of_source(report, name)) == shape(of_source(originals, original)), name
        assert of_source(report, name)


def test_the_bad_files_change_nothing_for_the_good_ones(tmp_path: Path, vanish_on_read: list[str]) -> None:
    faulty = write_fault_folder(tmp_path / "corpus", 64 * 1024)
    clean = tmp_path / "clean"
    clean.mkdir()
    for name in GOOD:
        (clean / name).write_bytes((faulty / name).read_bytes())
    assert ingest_corpus(faulty).passages == ingest_corpus(clean).passages


def test_reader_messages_name_the_problem(tmp_path: Path) -> None:
    folder = write_fault_folder(tmp_path / "corpus", 1024)
    for name, reason in SKIP_REASONS.items():
        if name == VANISHING:
            (folder / name).unlink()
        with pytest.raises(UnreadableFile) as info:
            read_source(folder / name)
        assert str(info.value) == reason


@pytest.mark.slow
def test_cli_build_exits_0_prints_the_skipped_files_and_records_them(tmp_path: Path, vanish_on_read: list[str]) -> None:
    folder = write_fault_folder(tmp_path / "corpus", BUILD_HUGE_BYTES)
    index_dir = tmp_path / "index"
    result = CliRunner().invoke(
        jbqa_main, ["build", "--corpus", str(folder), "--index", str(index_dir), "--embedder", "offline"]
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    for name, reason in SKIP_REASONS.items():
        assert f"skipped {name}: {reason}" in result.stderr
    assert "Indexed" in result.stdout and str(index_dir.resolve()) in result.stdout

    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["corpus"]["skipped"] == SKIP_REASONS
    assert sorted(manifest["corpus"]["files"]) == sorted(GOOD)
    assert manifest["corpus"]["encodings"]["b_gb18030.txt"] == "gb18030"
    assert manifest["corpus"]["encodings"]["c_utf16.md"] == "utf-16"

    loaded = load_index(index_dir)
    assert loaded.manifest["corpus"]["skipped"] == SKIP_REASONS
    assert {p.source for p in loaded.passages} == set(GOOD)
    assert manifest["passage_count"] == len(loaded.passages)
    for name, (original, _) in ORIGINALS.items():
        assert loaded.sources[name] == (BUNDLED_CORPUS / original).read_text(encoding="utf-8")
