"""Document metadata: derived from the text, set by the corpus's metadata.jsonl, kept in the index."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from jbqa.index.store import IndexUnusable, build_index, check_corpus
from jbqa.ingest import ingest_corpus
from jbqa.ingest.clean import clean_document
from jbqa.ingest.metadata import (
    MAX_SIDECAR_BYTES,
    SIDECAR,
    DocumentMeta,
    MetadataError,
    derive,
    read_sidecar,
    sidecar_sha256,
    valid_date,
    valid_url,
)

HEADED = "山城步道今年全线贯通\n\n2023年9月28日，全长十二公里的山城步道全线贯通，沿线设有六个观景平台。\n"
PLAIN = "近年来，当地持续推进老旧小区改造，居民生活条件明显改善。今年又有三个小区完成改造。\n"


def test_a_heading_that_opens_the_document_is_its_title_and_the_first_full_date_its_date() -> None:
    meta = derive("a.txt", clean_document(HEADED))
    assert meta == DocumentMeta("a.txt", "山城步道今年全线贯通", "2023-09-28", date_kind="as_of")  # inferred


def test_without_a_heading_the_opening_words_are_the_title_and_no_date_is_guessed() -> None:
    meta = derive("b.txt", clean_document(PLAIN))
    assert meta.title == "近年来，当地持续推进老旧小区改造，居民生活条件明显改善"
    assert meta.date is None


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(HEADED, encoding="utf-8")
    (folder / "b.txt").write_text(PLAIN, encoding="utf-8")
    return folder


def test_the_sidecar_sets_and_overrides_fields_and_is_not_indexed(corpus: Path) -> None:
    (corpus / SIDECAR).write_text(
        json.dumps({"file": "b.txt", "title": "老旧小区改造", "date": "2024-05", "publisher": "某日报"},
                   ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    report = ingest_corpus(corpus)
    assert set(report.sources) == {"a.txt", "b.txt"}
    assert report.documents["b.txt"] == DocumentMeta("b.txt", "老旧小区改造", "2024-05", "某日报", None)
    assert report.documents["a.txt"].title == "山城步道今年全线贯通"  # derived where the sidecar is silent


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"title": "x"}', 'with a "file"'),
        ('{"file": "a.txt", "date": "2024年"}', "is not a calendar date"),
        ('{"file": "a.txt", "date": "2024\\n"}', "is not a calendar date"),
        ('{"file": "a.txt", "date": "2024-02-30"}', "is not a calendar date"),
        ('{"file": "a.txt", "date": "2023-02-29"}', "is not a calendar date"),
        ('{"file": "a.txt", "date": "2024-13"}', "is not a calendar date"),
        ('{"file": "a.txt", "date_kind": "guessed"}', "date_kind 'guessed'"),
        ('{"file": "a.txt", "url": "javascript:alert(1)"}', "not an http"),
        ('{"file": "a.txt", "url": "https://"}', "not an http"),
        ('{"file": "a.txt", "url": "https://example.org/a b"}', "not an http"),
        ('{"file": "a.txt", "url": "data:text/html,x"}', "not an http"),
        ('{"file": "a.txt", "title": "' + "题" * 301 + '"}', "longer than 300"),
        ('{"file": "a.txt", "author": "x"}', "unknown fields"),
        ("not json", "metadata.jsonl:1"),
    ],
)
def test_a_bad_sidecar_line_is_named(corpus: Path, line: str, message: str) -> None:
    (corpus / SIDECAR).write_text(line + "\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=message):
        read_sidecar(corpus)


def test_real_dates_and_web_addresses_pass() -> None:
    assert all(valid_date(d) for d in ("2024", "2024-02", "2024-02-29", "2023-12-31"))
    assert valid_url("https://example.org/news/2024/a.html?id=3#top") and valid_url("http://127.0.0.1:8000/x")


def test_the_sidecar_is_read_as_corpus_files_are(corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text('{"file": "a.txt", "title": "不该读到"}\n', encoding="utf-8")
    (corpus / SIDECAR).symlink_to(outside)
    with pytest.raises(MetadataError, match="outside the corpus folder"):
        read_sidecar(corpus)
    (corpus / SIDECAR).unlink()
    (corpus / SIDECAR).mkdir()
    with pytest.raises(MetadataError, match="not a regular file"):
        read_sidecar(corpus)
    (corpus / SIDECAR).rmdir()
    with (corpus / SIDECAR).open("wb") as big:  # sparse: costs no disk, would cost memory to read
        big.truncate(MAX_SIDECAR_BYTES + 1)
    started = time.monotonic()
    with pytest.raises(MetadataError, match="too large"):
        read_sidecar(corpus)
    assert sidecar_sha256(corpus) == "unreadable"  # a built index's corpus check finds it changed
    assert time.monotonic() - started < 1
    (corpus / SIDECAR).unlink()
    os.mkfifo(corpus / SIDECAR)  # opened without waiting for a writer
    with pytest.raises(MetadataError, match="not a regular file"):
        read_sidecar(corpus)


def test_a_sidecar_date_keeps_only_its_own_kind(corpus: Path) -> None:
    (corpus / SIDECAR).write_text(
        '{"file": "a.txt", "date": "2023-10-01", "date_kind": "published"}\n{"file": "b.txt", "date": "2024"}\n',
        encoding="utf-8",
    )
    report = ingest_corpus(corpus)
    assert (report.documents["a.txt"].date, report.documents["a.txt"].date_kind) == ("2023-10-01", "published")
    assert (report.documents["b.txt"].date, report.documents["b.txt"].date_kind) == ("2024", None)


def test_metadata_is_in_the_index_and_a_changed_sidecar_is_a_changed_corpus(corpus: Path, tmp_path: Path) -> None:
    (corpus / SIDECAR).write_text('{"file": "a.txt", "date": "2023"}\n', encoding="utf-8")
    index = build_index(corpus, tmp_path / "index", "offline")
    assert index.documents["a.txt"].date == "2023"
    assert index.manifest["corpus"]["documents"]["b.txt"]["title"].startswith("近年来")
    check_corpus(index, corpus)
    (corpus / SIDECAR).write_text('{"file": "a.txt", "date": "2022"}\n', encoding="utf-8")
    with pytest.raises(IndexUnusable, match=SIDECAR):
        check_corpus(index, corpus)
