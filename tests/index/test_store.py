"""The index folder: build -> save -> load gives the same index; damage is refused with a rebuild hint."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

import jbqa.index.store
from jbqa.config import BUNDLED_CORPUS
from jbqa.index.embedders import OFFLINE_KIND
from jbqa.index.retriever import hybrid_search
from jbqa.index.store import (
    FORMAT_VERSION,
    IndexUnusable,
    LoadedIndex,
    build_index,
    check_corpus,
    corpus_checksum,
    index_exists,
    load_index,
)
from jbqa.index.tokenize import TOKENIZER_NAME, index_terms

# 000_623d10d81843cc6a.txt, lines 8-30.
FINANCE = """去年12月，全市首家中国、意大利合资保险区域总部——中
意人寿重庆分公司在江北嘴正式开业；

今年4月，江北区与成都银行签订川渝地区首个银政金
融合作协议，推动成渝地区共建西部金融中心；

今年5月，重庆小米消费金融有限公司正式在江北区挂
牌开业……

“上海有陆家嘴，重庆有江北嘴。”从一句在重庆广为流
传的话中，足见江北区的金融核心地位。

近年来，江北区以江北嘴中央商务区为中心，以要素集
聚为支撑点，大力发展现代金融，对标国际标准，持续优化金

融业态，努力打造内陆国际金融中心，成效显著。
截至今年7月，江北区内共集聚金融机构超480家，涵盖

10余种门类，其中全国及区域性金融总部88家，金融资产规模
占全市近三分之一，上市公司数量及市值均居全市第一。除了金

融机构的数量外，江北区还重点从金融创新发展、金融功能聚集、金
融开放发展和金融品质建设等方面进行尝试和探索。
"""

# 003_0a50f88abe1f9a29.txt, lines 33-35.
HOUSING = """漫步江北区观音桥街道塔坪小区，道路两旁，依地势起伏而建的楼房错落有致，文创店、咖啡店等店铺创意十足，吸引年轻游客纷至沓来。然而几年前，塔坪小区还是一个老旧小区。

2021年，江北区启动塔坪老旧小区改造工程，按照“三治两升一导入”的原则，即治脏、治乱、治违，实现功能提升、品质提升，注重产业导入，对塔坪小区实施有机更新。经过2年多的时间，塔坪小区完成改造，整个小区焕然一新；“飞线”全部下地，下水管全部更换，楼道杂物全部清理，并设置了便民服务亭，为小区居民带来更便捷的生活体验。
"""

# 003_0a50f88abe1f9a29.txt, line 47.
SECURITY = "220平方公里土地，94万余人口……为实现城市安全稳定运转，江北区把握新时代枫桥经验的科学内涵和实践要求，用数字化理念和手段，实现高效能治理。\n"

QUESTIONS = ["江北区金融机构有多少家", "塔坪小区改造工程什么时候启动", "小米消费金融", "成都银行签订了什么协议"]


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "finance.txt").write_text(FINANCE, encoding="utf-8")
    (folder / "housing.txt").write_text(HOUSING, encoding="utf-8")
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> LoadedIndex:
    """A small offline index, built once; tests that damage it work on a copy."""
    base = tmp_path_factory.mktemp("store")
    return build_index(write_corpus(base / "corpus"), base / "index", "offline")


@pytest.fixture
def index_copy(built: LoadedIndex, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(built.directory, target)
    return target


def search_results(index: LoadedIndex) -> list[list[tuple[int, int | None, int | None]]]:
    return [[(h.passage, h.bm25_rank, h.dense_rank) for h in hybrid_search(index, q)] for q in QUESTIONS]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- save -> load ----------------------------------------------------------------------------


def test_load_gives_back_what_was_built(built: LoadedIndex) -> None:
    loaded = load_index(built.directory)
    assert loaded.passages == built.passages
    assert loaded.sources == built.sources
    assert loaded.manifest == built.manifest
    assert len(loaded.dense) == len(built.dense) == len(built.passages)
    assert loaded.bm25.n_docs == len(built.passages)


def test_retrieval_is_the_same_before_and_after_reload(built: LoadedIndex) -> None:
    loaded = load_index(built.directory)
    before, after = search_results(built), search_results(loaded)
    assert before == after
    assert all(hits for hits in before)
    for q in QUESTIONS:
        a = [h.score for h in hybrid_search(built, q)]
        b = [h.score for h in hybrid_search(loaded, q)]
        assert a == pytest.approx(b)
        va = built.embedder.encode_queries([q])
        vb = loaded.embedder.encode_queries([q])
        np.testing.assert_array_equal(va, vb)


def test_retrieval_finds_the_passage_that_holds_the_words(built: LoadedIndex) -> None:
    hits = hybrid_search(built, "塔坪老旧小区改造工程")
    top = built.passages[hits[0].passage]
    assert top.source == "housing.txt"
    assert "塔坪" in top.text
    assert hits[0].bm25_rank == 1


def test_loaded_sources_are_the_decoded_corpus_files(built: LoadedIndex) -> None:
    loaded = load_index(built.directory)
    assert loaded.sources == {"finance.txt": FINANCE, "housing.txt": HOUSING}
    for passage in loaded.passages:
        raw = loaded.sources[passage.source]
        assert passage.char_end <= len(raw)


def test_the_manifest_describes_the_index(built: LoadedIndex) -> None:
    directory = built.directory
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["embedder"]["kind"] == OFFLINE_KIND
    assert manifest["embedder"]["name"] == built.embedder.name
    assert manifest["embedder"]["dim"] == built.embedder.dim == built.dense.dim
    assert manifest["embedder"]["requested"] == "offline"
    assert "package" not in manifest["embedder"]  # a packaged model records its package and file hash
    assert manifest["embedder"]["normalized"] is True
    assert manifest["faiss"]["factory"] == "Flat"
    assert manifest["tokenizer"] == TOKENIZER_NAME and "jieba" in manifest["tokenizer"]
    assert set(manifest["bm25"]) >= {"k1", "b", "method"}
    assert manifest["bm25"]["k1"] > 0 and 0 <= manifest["bm25"]["b"] <= 1
    assert manifest["passage_count"] == len(built.passages)
    assert "faiss-cpu" in manifest["libraries"] and "bm25s" in manifest["libraries"]

    files = manifest["corpus"]["files"]
    corpus_dir = Path(manifest["corpus"]["dir"])
    assert files == {
        name: hashlib.sha256((corpus_dir / name).read_bytes()).hexdigest() for name in ("finance.txt", "housing.txt")
    }
    assert manifest["corpus"]["checksum"] == corpus_checksum(files)
    joined = "\n".join(f"{name}\t{files[name]}" for name in sorted(files))
    assert manifest["corpus"]["checksum"] == hashlib.sha256(joined.encode()).hexdigest()
    assert manifest["corpus"]["skipped"] == {}

    built_at = datetime.strptime(manifest["built_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - built_at).total_seconds()) < 3600


def test_the_folder_holds_every_part_in_readable_form(built: LoadedIndex) -> None:
    directory = built.directory
    for part in ("manifest.json", "passages.jsonl", "faiss.index", "bm25", "embedder", "sources"):
        assert (directory / part).exists(), part
    lines = (directory / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(built.passages)
    assert "江北区" in lines[0]  # written as UTF-8, not \\u escapes
    assert (directory / "sources" / "finance.txt").read_text(encoding="utf-8") == FINANCE
    assert leftovers(directory.parent) == []


def test_the_index_holds_the_vectors_and_terms_of_its_passages(built: LoadedIndex) -> None:
    texts = [p.text for p in built.passages]
    stored = built.dense.index.reconstruct_n(0, len(texts))
    np.testing.assert_allclose(stored, built.embedder.encode_documents(texts), atol=1e-6)
    terms = [set(index_terms(t)) for t in texts]
    for term in set().union(*terms):
        postings = built.bm25.postings(term)
        assert postings is not None
        assert sorted(postings.tolist()) == [i for i, doc in enumerate(terms) if term in doc]


def test_a_build_segments_each_passage_once(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jieba

    segmented: list[str] = []
    cut_for_search = jieba.cut_for_search

    def counted(text: str, *args: object, **kwargs: object) -> object:
        segmented.append(text)
        return cut_for_search(text, *args, **kwargs)

    monkeypatch.setattr(jieba, "cut_for_search", counted)
    index = build_index(corpus, tmp_path / "index", "offline")
    assert len(segmented) == len(index.passages)


def test_the_corpus_checksum_ignores_file_order() -> None:
    assert corpus_checksum({"a": "1", "b": "2"}) == corpus_checksum({"b": "2", "a": "1"})
    assert corpus_checksum({"a": "1", "b": "2"}) != corpus_checksum({"a": "1", "b": "3"})


# --- unusable indexes --------------------------------------------------------------------------


def other_format_version(directory: Path) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(manifest), encoding="utf-8")


def truncated_passages(directory: Path) -> None:
    path = directory / "passages.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def missing_last_passage(directory: Path) -> None:
    path = directory / "passages.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")


def deleted_faiss(directory: Path) -> None:
    (directory / "faiss.index").unlink()


def deleted_bm25(directory: Path) -> None:
    shutil.rmtree(directory / "bm25")


def garbled_manifest(directory: Path) -> None:
    (directory / "manifest.json").write_text("{not json", encoding="utf-8")


def deleted_source(directory: Path) -> None:
    (directory / "sources" / "housing.txt").unlink()


@pytest.mark.parametrize(
    "damage",
    [
        other_format_version,
        truncated_passages,
        missing_last_passage,
        deleted_faiss,
        deleted_bm25,
        garbled_manifest,
        deleted_source,
    ],
)
def test_a_damaged_index_is_refused_with_a_rebuild_hint(index_copy: Path, damage: Callable[[Path], None]) -> None:
    load_index(index_copy)  # sound before the damage
    damage(index_copy)
    with pytest.raises(IndexUnusable, match="jbqa build") as info:
        load_index(index_copy)
    assert str(index_copy.resolve()) in str(info.value)


def test_a_missing_index_is_refused_with_a_rebuild_hint(tmp_path: Path) -> None:
    assert not index_exists(tmp_path / "nothing")
    with pytest.raises(IndexUnusable, match="jbqa build"):
        load_index(tmp_path / "nothing")


def test_another_format_version_is_named_in_the_message(index_copy: Path) -> None:
    other_format_version(index_copy)
    with pytest.raises(IndexUnusable, match=f"format version {FORMAT_VERSION + 1}"):
        load_index(index_copy)


# --- the corpus the index was built from ------------------------------------------------------


def test_check_corpus_accepts_the_corpus_it_was_built_from(corpus: Path, tmp_path: Path) -> None:
    index = build_index(corpus, tmp_path / "index", "offline")
    check_corpus(index, corpus)
    check_corpus(load_index(tmp_path / "index"), corpus)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: (c / "finance.txt").write_text(FINANCE + "新增一句。\n", encoding="utf-8"), "finance.txt"),
        (lambda c: (c / "security.txt").write_text(SECURITY, encoding="utf-8"), "security.txt"),
        (lambda c: (c / "housing.txt").unlink(), "housing.txt"),
    ],
    ids=["edited", "added", "removed"],
)
def test_check_corpus_refuses_a_changed_corpus(
    corpus: Path, tmp_path: Path, change: Callable[[Path], object], named: str
) -> None:
    index = load_index(build_index(corpus, tmp_path / "index", "offline").directory)
    change(corpus)
    with pytest.raises(IndexUnusable, match="jbqa build") as info:
        check_corpus(index, corpus)
    assert named in str(info.value)


def test_check_corpus_accepts_a_corpus_with_a_file_skipped_at_build(corpus: Path, tmp_path: Path) -> None:
    (corpus / "dashes.txt").write_text("——\n……\n", encoding="utf-8")
    index = build_index(corpus, tmp_path / "index", "offline")
    assert index.manifest["corpus"]["skipped"] == {"dashes.txt": "no text left after cleaning"}
    check_corpus(index, corpus)


def test_check_corpus_ignores_files_skipped_as_unreadable(corpus: Path, tmp_path: Path) -> None:
    (corpus / "picture.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    index = build_index(corpus, tmp_path / "index", "offline")
    assert "picture.txt" in index.manifest["corpus"]["skipped"]
    check_corpus(index, corpus)


def test_a_corpus_of_one_sentence_builds_and_answers(tmp_path: Path) -> None:
    from jbqa.answerer import Answerer

    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "one.txt").write_text("截至今年7月，江北区内共集聚金融机构超480家。\n", encoding="utf-8")
    build_index(tiny, tmp_path / "index", "offline")
    loaded = load_index(tmp_path / "index")
    assert len(loaded.passages) == 1
    result = Answerer(loaded).ask("江北区金融机构有多少家")
    assert not result.abstained
    assert result.answers[0].answer == "超480家"
    assert Answerer(loaded).ask("塔坪小区改造").abstained


# --- atomic builds ---------------------------------------------------------------------------


def fail(*args: object, **kwargs: object) -> None:
    raise RuntimeError("simulated failure")


@pytest.mark.parametrize("step", ["build", "save"])
def test_a_failed_rebuild_leaves_the_previous_index_intact(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    target = tmp_path / "indexes" / "index"
    old = build_index(corpus, target, "offline")
    (corpus / "security.txt").write_text(SECURITY, encoding="utf-8")
    if step == "build":
        monkeypatch.setattr(jbqa.index.store.BM25Index, "build", classmethod(fail))
    else:
        monkeypatch.setattr(jbqa.index.store.BM25Index, "save", fail)

    with pytest.raises(RuntimeError, match="simulated failure"):
        build_index(corpus, target, "offline")

    assert leftovers(target.parent) == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["index"]
    monkeypatch.undo()
    survivor = load_index(target)
    assert survivor.passages == old.passages
    assert sorted(survivor.manifest["corpus"]["files"]) == ["finance.txt", "housing.txt"]
    assert search_results(survivor) == search_results(old)


def test_a_rebuild_replaces_the_index_and_cleans_up(corpus: Path, tmp_path: Path) -> None:
    target = tmp_path / "indexes" / "index"
    old = build_index(corpus, target, "offline")
    (corpus / "security.txt").write_text(SECURITY, encoding="utf-8")
    new = build_index(corpus, target, "offline")
    assert len(new.passages) > len(old.passages)
    assert load_index(target).passages == new.passages
    assert sorted(p.name for p in target.parent.iterdir()) == ["index"]


def test_a_swap_cut_between_its_two_renames_is_recovered(index_copy: Path) -> None:
    expected = load_index(index_copy).passages
    backup = index_copy.parent / f".{index_copy.name}.previous"
    os.replace(index_copy, backup)  # the old index moved aside, the new one not yet in place
    assert index_exists(index_copy)
    assert load_index(index_copy).passages == expected
    assert not backup.exists()


def test_a_corpus_without_text_builds_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("   \n", encoding="utf-8")
    with pytest.raises(IndexUnusable, match="no readable text"):
        build_index(empty, tmp_path / "index", "offline")
    assert not (tmp_path / "index").exists()


def test_a_new_index_folder_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        index = build_index(BUNDLED_CORPUS, tmp_path / "index", "offline")
    finally:
        os.umask(old)
    assert stat.S_IMODE(index.directory.stat().st_mode) == 0o755
