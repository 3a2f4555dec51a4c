"""Only regular files inside the corpus folder are read; sizes are checked before reading; UTF-8
with a few bad bytes is read with those bytes replaced and counted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jbqa.ingest import ingest_corpus
from jbqa.ingest.reader import MAX_FILE_BYTES, UnreadableFile, read_source

TEXT = "江北区位于长江与嘉陵江交汇处的北岸。全区面积约二百平方公里。\n" * 20


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "good.txt").write_text(TEXT, encoding="utf-8")
    return folder


def test_links_out_of_the_corpus_are_skipped_and_never_served(corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("机密文件的内容不应被索引。\n", encoding="utf-8")
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    (corpus / "secret.txt").symlink_to(outside / "secret.txt")
    (corpus / "inside.txt").symlink_to(corpus / "good.txt")
    report = ingest_corpus(corpus)
    assert report.skipped["passwd.txt"] == report.skipped["secret.txt"] == "a link to a file outside the corpus folder"
    assert set(report.sources) == {"good.txt", "inside.txt"}  # a link that stays inside is read
    assert all("机密" not in p.text for p in report.passages)


def test_a_fifo_is_skipped_at_once(corpus: Path) -> None:
    os.mkfifo(corpus / "pipe.txt")
    report = ingest_corpus(corpus)  # would block for ever if the FIFO were opened for reading
    assert report.skipped["pipe.txt"] == "not a regular file (a FIFO, device or socket)"
    assert "good.txt" in report.sources


def test_a_link_to_a_device_is_skipped(corpus: Path, tmp_path: Path) -> None:
    devices = tmp_path / "dev"
    devices.mkdir()
    (corpus / "zero.txt").symlink_to("/dev/zero")
    with pytest.raises(UnreadableFile):
        read_source(corpus / "zero.txt")  # outside the root is not given: it is the device check
    assert "zero.txt" in ingest_corpus(corpus).skipped


def test_an_oversized_sparse_file_is_refused_before_it_is_read(corpus: Path) -> None:
    big = corpus / "big.txt"
    with open(big, "wb") as handle:
        handle.truncate(8 * 1024**3)  # 8 GiB of holes: reading it would exhaust memory
    with pytest.raises(UnreadableFile, match=f"too large \\({8 * 1024**3} bytes, limit {MAX_FILE_BYTES}\\)"):
        read_source(big)


def test_utf8_with_a_few_invalid_bytes_is_read_and_the_bytes_counted(tmp_path: Path) -> None:
    path = tmp_path / "damaged.txt"
    data = TEXT.encode("utf-8")
    path.write_bytes(data[:30] + b"\xff\xfe" + data[30:])
    source = read_source(path)
    assert source.encoding == "utf-8 (2 invalid bytes replaced)"
    assert source.text.count("\ufffd") >= 1
    assert "全区面积约二百平方公里" in source.text


def test_mostly_invalid_bytes_are_still_not_text(tmp_path: Path) -> None:
    path = tmp_path / "noise.txt"
    path.write_bytes(bytes(range(128, 256)) * 40)
    with pytest.raises(UnreadableFile):
        read_source(path)


def test_gb18030_is_still_read_as_gb18030(tmp_path: Path) -> None:
    path = tmp_path / "gb.txt"
    path.write_bytes(TEXT.encode("gb18030"))
    assert read_source(path).encoding == "gb18030"
