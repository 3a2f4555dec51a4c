"""Document metadata: derived from the text, set by the corpus's metadata.jsonl, kept in the index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jbqa.index.store import IndexUnusable, build_index, check_corpus
from jbqa.ingest import ingest_corpus
from jbqa.ingest.clean import clean_document
from jbqa.ingest.metadata import SIDECAR, DocumentMeta, MetadataError, derive, read_sidecar

HEADED = "山城步道今年全线贯通\n\n2023年9月28日，全长十二公里的山城步道全线贯通，沿线设有六个观景平台。\n"
PLAIN = "近年来，当地持续推进老旧小区改造，居民生活条件明显改善。今年又有三个小区完成改造。\n"


def test_a_heading_that_opens_the_document_is_its_title_and_the_first_full_date_its_date() -> None:
    meta = derive("a.txt", clean_document(HEADED))
    assert meta == DocumentMeta("a.txt", "山城步道今年全线贯通", "2023-09-28")


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
        ('{"file": "a.txt", "date": "2024年"}', "is not YYYY-MM-DD"),
        ('{"file": "a.txt", "author": "x"}', "unknown fields"),
        ("not json", "metadata.jsonl:1"),
    ],
)
def test_a_bad_sidecar_line_is_named(corpus: Path, line: str, message: str) -> None:
    (corpus / SIDECAR).write_text(line + "\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=message):
        read_sidecar(corpus)


def test_metadata_is_in_the_index_and_a_changed_sidecar_is_a_changed_corpus(corpus: Path, tmp_path: Path) -> None:
    (corpus / SIDECAR).write_text('{"file": "a.txt", "date": "2023"}\n', encoding="utf-8")
    index = build_index(corpus, tmp_path / "index", "offline")
    assert index.documents["a.txt"].date == "2023"
    assert index.manifest["corpus"]["documents"]["b.txt"]["title"].startswith("近年来")
    check_corpus(index, corpus)
    (corpus / SIDECAR).write_text('{"file": "a.txt", "date": "2022"}\n', encoding="utf-8")
    with pytest.raises(IndexUnusable, match=SIDECAR):
        check_corpus(index, corpus)
