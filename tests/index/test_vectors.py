"""The vector cache: a rebuild embeds only the texts it has not seen; a broken cache is passed over."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from jbqa.config import BUNDLED_CORPUS
from jbqa.index.store import (
    SENTENCE_VECTORS,
    IndexUnusable,
    LoadedIndex,
    build_index,
    file_checksums,
    load_index,
)
from jbqa.index.vectors import VectorCache, embed_with_cache, release_freed_memory


class CountingEncoder:
    """A deterministic stand-in for a model: a text's vector from its characters; counts the texts it is given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], np.float32)


def test_texts_seen_before_are_not_embedded_again(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path, "model-a")
    encode = CountingEncoder()
    first, computed = embed_with_cache(encode, ["甲", "乙乙", "甲"], 3, cache)
    assert computed == 2 and encode.seen == ["甲", "乙乙"]  # a repeated text is embedded once
    np.testing.assert_array_equal(first[0], first[2])
    again, computed = embed_with_cache(encode, ["乙乙", "丙丙丙", "甲"], 3, cache)
    assert computed == 1 and encode.seen[-1] == "丙丙丙"
    np.testing.assert_array_equal(again[[0, 2]], first[[1, 0]])
    other = VectorCache(tmp_path, "model-b")  # another model's vectors are its own
    assert embed_with_cache(encode, ["甲"], 3, other)[1] == 1
    assert other.path != cache.path and {p.name for p in tmp_path.glob("vectors-*.sqlite")} == {
        cache.path.name, other.path.name}


def test_texts_are_embedded_shortest_first_and_given_back_in_order() -> None:
    encode = CountingEncoder()
    texts = ["丙丙丙", "甲", "乙乙", "丁"]
    vectors, computed = embed_with_cache(encode, texts, 3, None)
    assert computed == 4 and encode.seen == ["甲", "丁", "乙乙", "丙丙丙"]  # batches of like length pad little
    np.testing.assert_array_equal(vectors, CountingEncoder()(texts))


def test_a_cached_vector_keeps_its_row_in_a_page(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path, "model-a")
    rng = np.random.default_rng(0)
    texts = [f"第{i}句话。" for i in range(400)]
    embed_with_cache(lambda batch: rng.standard_normal((len(batch), 384)).astype(np.float32), texts, 384, cache)
    with sqlite3.connect(cache.path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, page_bytes = (db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "page_size"))
    assert pages * page_bytes < 400 * 384 * 4 * 1.5  # with 4 KiB pages each vector took a page of its own


def test_a_broken_cache_file_is_passed_over(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path, "m")
    path = cache.path
    path.write_bytes(b"not a database" * 100)
    vectors, computed = embed_with_cache(CountingEncoder(), ["甲", "乙"], 3, cache)
    assert computed == 2 and vectors.shape == (2, 3)
    assert path.read_bytes() == b"not a database" * 100  # not jbqa's to repair


def test_every_sentence_has_a_vector_and_a_mismatch_is_refused(e5_index: LoadedIndex, tmp_path: Path) -> None:
    sentences = sum(len(p.sentences) for p in e5_index.passages)
    assert e5_index.sentence_vectors.shape == (sentences, e5_index.embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(e5_index.sentence_vectors, axis=1), 1.0, atol=1e-4)
    copy = tmp_path / "index"
    shutil.copytree(e5_index.directory, copy)
    np.testing.assert_array_equal(load_index(copy).sentence_vectors, e5_index.sentence_vectors)
    np.save(copy / SENTENCE_VECTORS, e5_index.sentence_vectors[:-1])
    (copy / "manifest.json").write_text(json.dumps(_rehashed(copy)), encoding="utf-8")
    with pytest.raises(IndexUnusable, match="sentences.npy"):
        load_index(copy)


def test_the_offline_embedder_leaves_sentences_without_vectors(offline_index: LoadedIndex) -> None:
    assert offline_index.sentence_vectors.shape == (0, offline_index.embedder.dim)
    assert load_index(offline_index.directory).sentence_vectors.shape == (0, offline_index.embedder.dim)


def _rehashed(index_dir: Path) -> dict:  # type: ignore[type-arg]
    """The manifest with the checksums of the files as they are now (a consistent index of other content)."""
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["checksums"] = file_checksums(index_dir)
    return manifest


@pytest.mark.slow
def test_a_rebuild_with_one_document_more_embeds_only_that_document(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    first = build_index(corpus, tmp_path / "index", "auto")
    again = build_index(corpus, tmp_path / "index", "auto").manifest["embedder"]["embedded"]
    assert again == {"passages": 0, "sentences": 0}
    (corpus / "new.txt").write_text("新的文件。它只有两句话，讲的是一座新建的图书馆。", encoding="utf-8")
    grown = build_index(corpus, tmp_path / "index", "auto")
    assert grown.manifest["embedder"]["embedded"] == {"passages": 1, "sentences": 2}
    assert len(grown.passages) == len(first.passages) + 1
    np.testing.assert_allclose(grown.sentence_vectors[: len(first.sentence_vectors)], first.sentence_vectors)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_can_be_given_back_on_linux() -> None:
    assert release_freed_memory()
