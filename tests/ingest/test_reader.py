"""Reading files whatever their encoding, and skipping (with a reason) those that cannot be read."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import jbqa.ingest.pipeline
from jbqa.ingest import ingest_corpus
from jbqa.ingest.reader import UnreadableFile, decode_bytes, read_source

# 000_623d10d81843cc6a.txt, lines 24-27.
TEXT = (
    "截至今年7月，江北区内共集聚金融机构超480家，涵盖\n\n"
    "10余种门类，其中全国及区域性金融总部88家，金融资产规模\n"
    "占全市近三分之一，上市公司数量及市值均居全市第一。\n"
)
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def binary_bytes() -> bytes:
    return PNG_HEADER + random.Random(0).randbytes(2048) + b"\x00" * 64


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("gb18030"), "gb18030"),
        (b"\xff\xfe" + TEXT.encode("utf-16-le"), "utf-16"),
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-32"), "utf-32"),
    ],
    ids=["utf-8", "utf-8-bom", "gb18030", "utf-16-le-bom", "utf-16-be-bom", "utf-32-bom"],
)
def test_every_supported_encoding_decodes_to_the_same_text(tmp_path: Path, data: bytes, encoding: str) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(data)
    source = read_source(path)
    assert source.text == TEXT
    assert source.encoding == encoding
    assert source.name == "doc.txt"
    assert len(source.sha256) == 64


def test_the_checksum_is_of_the_bytes_so_two_encodings_differ(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(TEXT.encode("utf-8"))
    (tmp_path / "b.txt").write_bytes(TEXT.encode("gb18030"))
    (tmp_path / "c.txt").write_bytes(TEXT.encode("utf-8"))
    a, b, c = (read_source(tmp_path / n) for n in ("a.txt", "b.txt", "c.txt"))
    assert a.text == b.text
    assert a.sha256 != b.sha256
    assert a.sha256 == c.sha256


def test_ascii_heavy_utf16_without_bom_is_recognised() -> None:
    text = "Report 2023: GDP 1744, growth 6.7%, LED screen, 5G network.\n" * 3
    for encoding in ("utf-16-le", "utf-16-be"):
        assert decode_bytes(text.encode(encoding)) == (text, encoding)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (binary_bytes(), "binary"),
        (b"", "empty"),
        (b"  \n\t\r\n   \n", "empty"),
    ],
    ids=["png", "empty", "whitespace"],
)
def test_unreadable_files_raise_with_a_clear_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(UnreadableFile, match=reason):
        read_source(path)


def test_invalid_bytes_after_a_utf8_bom_are_reported_with_their_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "江北".encode() + b"\xff\xfe\xfa")
    with pytest.raises(UnreadableFile, match=r"utf-8-sig.*byte 6"):
        read_source(path)


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="vanished"):
        read_source(tmp_path / "nowhere.txt")


def test_a_folder_with_a_text_suffix_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(UnreadableFile, match="cannot be read"):
        read_source(tmp_path / "folder.txt")


# --- ingest_corpus -----------------------------------------------------------------------------


def write_mixed_corpus(folder: Path) -> None:
    folder.mkdir()
    (folder / "a_utf8.txt").write_bytes(TEXT.encode("utf-8"))
    (folder / "b_gb.md").write_bytes(
        "去年 10月，党中央、国务院印发的《成渝地区双城经济圈建设规划纲要》。\n".encode("gb18030")
    )
    (folder / "c_picture.txt").write_bytes(binary_bytes())
    (folder / "d_empty.txt").write_bytes(b"")
    (folder / "e_blank.md").write_bytes(b" \n\n \n")
    (folder / "f_dashes.txt").write_text("——\n……\n", encoding="utf-8")
    (folder / "g_image.png").write_bytes(binary_bytes())  # not a text suffix: not listed at all
    (folder / ".hidden.txt").write_text("隐藏文件。\n", encoding="utf-8")


def test_ingest_keeps_good_files_and_names_every_bad_one(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_mixed_corpus(corpus)
    report = ingest_corpus(corpus)

    assert sorted(report.sources) == ["a_utf8.txt", "b_gb.md"]
    assert report.sources["b_gb.md"].encoding == "gb18030"
    assert sorted(report.skipped) == ["c_picture.txt", "d_empty.txt", "e_blank.md", "f_dashes.txt"]
    assert "binary" in report.skipped["c_picture.txt"]
    assert "empty" in report.skipped["d_empty.txt"]
    assert "empty" in report.skipped["e_blank.md"]
    assert "no text left" in report.skipped["f_dashes.txt"]

    by_source = {name: "".join(p.text for p in report.passages if p.source == name) for name in report.sources}
    assert by_source["a_utf8.txt"] == (
        "截至今年7月，江北区内共集聚金融机构超480家，涵盖10余种门类，其中全国及区域性金融总部88家，"
        "金融资产规模占全市近三分之一，上市公司数量及市值均居全市第一。"
    )
    assert by_source["b_gb.md"] == "去年10月，党中央、国务院印发的《成渝地区双城经济圈建设规划纲要》。"
    assert {p.source for p in report.passages} == {"a_utf8.txt", "b_gb.md"}


def test_ingest_results_do_not_depend_on_the_bad_files(tmp_path: Path) -> None:
    mixed = tmp_path / "corpus"
    write_mixed_corpus(mixed)
    clean = tmp_path / "clean"
    clean.mkdir()
    for name in ("a_utf8.txt", "b_gb.md"):
        (clean / name).write_bytes((mixed / name).read_bytes())
    assert ingest_corpus(mixed).passages == ingest_corpus(clean).passages


def test_a_file_removed_between_listing_and_reading_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good = corpus / "good.txt"
    good.write_text(TEXT, encoding="utf-8")
    gone = corpus / "gone.txt"
    monkeypatch.setattr(jbqa.ingest.pipeline, "list_corpus", lambda folder: [gone, good])

    report = ingest_corpus(corpus)
    assert list(report.skipped) == ["gone.txt"]
    assert "vanished" in report.skipped["gone.txt"]
    assert list(report.sources) == ["good.txt"]
    assert report.passages and all(p.source == "good.txt" for p in report.passages)


def test_a_missing_corpus_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="corpus folder not found"):
        ingest_corpus(tmp_path / "no-such-folder")


def test_an_empty_corpus_folder_gives_an_empty_report(tmp_path: Path) -> None:
    report = ingest_corpus(tmp_path)
    assert report.passages == [] and report.sources == {} and report.skipped == {}


def test_chinese_utf16_without_bom_is_read() -> None:
    assert decode_bytes(TEXT.encode("utf-16-le")) == (TEXT, "utf-16-le")


@pytest.mark.parametrize(
    "data",
    ["\u3000\u3000\n\u3000\n".encode(), b"\xef\xbb\xbf", "\u00a0\n".encode()],
    ids=["ideographic-spaces", "bom-only", "no-break-space"],
)
def test_a_file_of_unicode_whitespace_is_empty(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "blank.txt"
    path.write_bytes(data)
    with pytest.raises(UnreadableFile, match="empty"):
        read_source(path)
