"""Word similarity and soft coverage (jbqa.index.lexicon)."""

from __future__ import annotations

import io
import json
import pickle
import threading
from importlib import metadata
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.neighbors import BallTree

from jbqa.index.lexicon import (
    THESAURUS_DISCOUNT,
    Lexicon,
    LexiconMissing,
    LexiconPathRefused,
    ensure_lexicon,
    read_tree_file,
    weighted_coverage,
)


def _unit(*xs: float) -> list[float]:
    v = np.array(xs, dtype=np.float32)
    return list(v / np.linalg.norm(v))


@pytest.fixture()
def tiny() -> Lexicon:
    words = ["开张", "开业", "卖出", "销售", "买入", "香蕉", "日", "均", "每天", "2010", "2011"]
    vectors = np.array(
        [
            _unit(1, 0, 0),  # 开张
            _unit(1, 0.1, 0),  # 开业
            _unit(0, 1, 0),  # 卖出
            _unit(0.2, 1, 0),  # 销售
            _unit(0, 1, 0.05),  # 买入: as close to 卖出 as a synonym, as word vectors have it
            _unit(0, 0, 1),  # 香蕉
            _unit(0.6, 0, 0.8),  # 日
            _unit(0.8, 0, 0.6),  # 均
            _unit(1, 0, 0),  # 每天
            _unit(0, 0.5, 0.5),  # 2010
            _unit(0, 0.5, 0.5),  # 2011
        ]
    )
    groups = [["开张", "开业"], ["买入", "购买"], ["卖出", "售出"]]
    return Lexicon(words, vectors, groups)


def test_similarity_of_synonyms_unrelated_and_identical_words(tiny: Lexicon) -> None:
    assert tiny.similarity("开张", "开业") == 1.0  # one thesaurus line
    assert tiny.similarity("开业", "开张") == 1.0
    assert tiny.similarity("香蕉", "香蕉") == 1.0
    assert tiny.similarity("陌生词甲", "陌生词甲") == 1.0  # unknown, but the same word
    assert tiny.similarity("卖出", "香蕉") == 0.0
    assert tiny.similarity("卖出", "销售") == pytest.approx(float(np.dot(_unit(0, 1, 0), _unit(0.2, 1, 0))), abs=1e-3)


def test_thesaurus_words_not_grouped_together_are_discounted(tiny: Lexicon) -> None:
    cosine = float(np.dot(_unit(0, 1, 0), _unit(0, 1, 0.05)))
    assert tiny.similarity("买入", "卖出") == pytest.approx(cosine * THESAURUS_DISCOUNT, abs=1e-3)
    assert tiny.similarity("卖出", "销售") > tiny.similarity("买入", "卖出")


def test_words_without_cjk_match_only_themselves(tiny: Lexicon) -> None:
    assert tiny.similarity("2010", "2011") == 0.0
    assert tiny.similarity("2010", "2010") == 1.0


def test_unknown_word_is_composed_of_its_characters(tiny: Lexicon) -> None:
    composed = np.array(_unit(0.6, 0, 0.8)) + np.array(_unit(0.8, 0, 0.6))
    expected = float(np.dot(composed / np.linalg.norm(composed), _unit(1, 0, 0)))
    assert "日均" not in tiny
    assert tiny.similarity("日均", "每天") == pytest.approx(expected, abs=1e-3)
    assert tiny.similarity("完全没有", "每天") == 0.0


def test_soft_coverage_is_the_best_match_per_question_word(tiny: Lexicon) -> None:
    question = ["开张", "卖出", "香蕉"]
    sentences = [["开业", "销售"], [], ["香蕉", "2010"], ["卖出", "开张", "日均"]]
    many = tiny.soft_coverage_many(question, sentences)
    assert many.shape == (4, 3) and many.dtype == np.float32
    for row, sentence in zip(many, sentences):
        expected = tiny.similarity_matrix(question, sentence).max(axis=1) if sentence else np.zeros(3)
        np.testing.assert_allclose(row, expected, atol=1e-6)
        np.testing.assert_allclose(tiny.soft_coverage(question, sentence), expected, atol=1e-6)
    assert many[0, 0] == 1.0 and many[3, 1] == 1.0 and many[2, 2] == 1.0
    assert ((many >= 0) & (many <= 1)).all()
    assert tiny.soft_coverage_many([], sentences).shape == (4, 0)
    assert tiny.soft_coverage_many(question, []).shape == (0, 3)


def test_weighted_coverage() -> None:
    coverage = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(weighted_coverage(coverage, [2.0, 1.0, 1.0]), [2.5 / 4, 0.0])
    assert weighted_coverage(coverage[0], [2.0, 1.0, 1.0]) == pytest.approx(2.5 / 4)
    assert weighted_coverage(coverage[0], [0.0, 0.0, 0.0]) == 0.0


def test_tree_file_is_read_without_building_scikit_learn_objects() -> None:
    vectors = np.random.default_rng(0).normal(size=(20, 5))
    buffer = io.BytesIO()
    joblib.dump({"model": BallTree(vectors), "words": [f"词{i}" for i in range(20)]}, buffer)
    buffer.seek(0)
    words, read = read_tree_file(buffer)
    assert words == [f"词{i}" for i in range(20)]
    np.testing.assert_array_equal(read, vectors)


def test_tree_file_reader_refuses_other_classes() -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("never run",))

    with pytest.raises(pickle.UnpicklingError):
        read_tree_file(io.BytesIO(pickle.dumps({"model": Evil(), "words": []})))


def test_load_refuses_missing_or_damaged_files(tmp_path: Path) -> None:
    with pytest.raises(LexiconMissing):
        Lexicon.load(tmp_path / "nothing")
    (tmp_path / "lex").mkdir()
    np.save(tmp_path / "lex" / "vectors.npy", np.eye(2, dtype=np.float16))
    (tmp_path / "lex" / "words.txt").write_text("甲\n乙\n", encoding="utf-8")
    (tmp_path / "lex" / "thesaurus.txt").write_text("甲 乙\n", encoding="utf-8")
    info = {"format_version": 1, "vectors_sha256": "0" * 64}
    (tmp_path / "lex" / "info.json").write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(LexiconMissing, match="damaged"):
        Lexicon.load(tmp_path / "lex")
    assert Lexicon.load(tmp_path / "lex", verify=False).similarity("甲", "乙") == 1.0


def _cnsyn_installed() -> bool:
    try:
        metadata.distribution("cnsyn")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _cnsyn_installed(), reason="cnsyn is not installed")
def test_real_resource_extracts_and_ranks_paraphrases(tmp_path: Path) -> None:
    directory = ensure_lexicon(tmp_path / "lexicon")
    info = json.loads((directory / "info.json").read_text(encoding="utf-8"))
    assert info["source"]["package"] == "cnsyn" and info["words"] > 100_000 and info["dim"] == 75
    assert ensure_lexicon(directory) == directory  # already there: nothing to do
    lexicon = Lexicon.load(directory)
    paraphrases = [("卖出", "销售"), ("开张", "开业"), ("建成", "落成"), ("价格", "价钱"), ("何时", "什么时候")]
    unrelated = [("卖出", "天空"), ("开业", "香蕉"), ("建成", "音乐"), ("价格", "医生"), ("何时", "钢琴")]
    for (a, b), (c, d) in zip(paraphrases, unrelated):
        assert lexicon.similarity(a, b) > lexicon.similarity(c, d) + 0.1, (a, b, c, d)
    assert lexicon.similarity("每天", "每日") == 1.0  # one Cilin line


@pytest.mark.skipif(not _cnsyn_installed(), reason="cnsyn is not installed")
def test_a_damaged_lexicon_is_extracted_again(tmp_path: Path) -> None:
    directory = ensure_lexicon(tmp_path / "lexicon")
    vectors = directory / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-100] ^= 0xFF
    vectors.write_bytes(bytes(data))
    with pytest.raises(LexiconMissing, match="damaged"):
        Lexicon.load(directory)
    assert ensure_lexicon(directory) == directory
    Lexicon.load(directory)  # intact again


@pytest.mark.parametrize("kind", ["folder", "file", "link"])
def test_the_lexicon_is_never_extracted_over_data_of_someone_else(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    if kind == "folder":
        target.mkdir()
        (target / "notes.txt").write_text("mine", encoding="utf-8")
    elif kind == "file":
        target.write_text("mine", encoding="utf-8")
    else:
        target.symlink_to(mine)
    with pytest.raises(LexiconPathRefused, match=f"refusing to write the word lexicon at {target}"):
        ensure_lexicon(target)
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert target.is_symlink() if kind == "link" else target.exists()
    if kind == "folder":
        assert (target / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_words_met_on_many_threads_at_once_each_get_their_own_slot() -> None:
    # More words than the first table holds, met by 8 threads at once (answers run on several).
    words = [f"词{i}" for i in range(3000)]
    lexicon = Lexicon(words, np.eye(3000, 8, dtype=np.float32) + 0.01)
    errors: list[BaseException] = []

    def meet(part: list[str]) -> None:
        try:
            for word in part:
                lexicon.slots([word, words[0]])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=meet, args=(words[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    slots = lexicon.slots(words)
    assert sorted(slots.tolist()) == list(range(3000))
    fresh = Lexicon(words, np.eye(3000, 8, dtype=np.float32) + 0.01)  # met on one thread
    pairs = [(words[1], words[2]), (words[7], words[9]), (words[5], words[2999]), (words[1500], words[1500])]
    for a, b in pairs:
        assert lexicon.similarity(a, b) == pytest.approx(fresh.similarity(a, b))
