"""`jbqa train`: the light reader is rebuilt from SQuAD-format files with a fixed seed, and a
damaged or mismatched model is refused with the rebuild hint."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest

from jbqa.answerer.combined import DEPTH as COMBINED_DEPTH
from jbqa.answerer.model import MODEL_DIR, ModelUnavailable, ReaderModel
from jbqa.answerer.training import TRAINING_FILES, cached_out_of_fold, train

CITIES = ["临川", "青石", "白沙", "北岭", "南湖", "东渡", "西峰", "云台", "金沙", "石门", "长乐", "安平"]
PLACES = ["图书馆", "体育馆", "美术馆", "科技馆", "音乐厅", "植物园"]


def _context(rng: random.Random, city: str) -> dict[str, object]:
    place = rng.choice(PLACES)
    year = rng.randint(1950, 2020)
    count = rng.randint(3, 90)
    context = (
        f"{city}是一座历史悠久的城市，位于大河的下游。"
        f"{city}{place}于{year}年建成，是当地最早的公共设施之一。"
        f"全市共有公园{count}座，每年吸引大量游客。"
    )
    qas = [
        {"id": f"{city}-1", "question": f"{city}{place}是哪一年建成的？",
         "answers": [{"text": f"{year}年", "answer_start": context.index(f"{year}年")}]},
        {"id": f"{city}-2", "question": f"{city}一共有多少座公园？",
         "answers": [{"text": f"{count}座", "answer_start": context.index(f"{count}座")}]},
    ]
    return {"title": city, "paragraphs": [{"id": city, "context": context, "qas": qas}]}


@pytest.fixture(scope="module")
def training_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("train-data")
    for seed, name in enumerate(TRAINING_FILES):
        rng = random.Random(seed)
        data = {"version": "test", "data": [_context(rng, f"{city}{seed}") for city in CITIES]}
        (folder / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_training_twice_gives_the_same_model(training_data: Path, tmp_path: Path) -> None:
    first = train(training_data, tmp_path / "a", progress=False)
    second = train(training_data, tmp_path / "b", progress=False)
    for name in ("ranker.txt", "spans.txt", "abstain.txt", "abstain.json", "model.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first == second
    assert first["files"].keys() == TRAINING_FILES.keys()
    model = ReaderModel.load(tmp_path / "a")
    assert model.version.startswith("light-reader-")
    assert model.abstain is not None and 0.0 <= model.abstain.threshold <= 1.0

    # The questions it scored out of fold are kept for the combined model's fit: read back, not asked.
    said: list[str] = []
    kept = cached_out_of_fold(training_data, COMBINED_DEPTH, progress=False, log=said.append)
    assert len(said) == 1 and "read back" in said[0]
    assert {o.position for o in kept} == set(range(COMBINED_DEPTH))
    assert len([o for o in kept if o.position == 0]) == model.abstain.report["rows"]


def test_a_missing_training_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cmrc2018_trial.json"):
        train(tmp_path, tmp_path / "out", progress=False)


def test_the_shipped_model_loads() -> None:
    model = ReaderModel.load()
    assert model.version.startswith("light-reader-")
    card = json.loads((MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    assert card["training"]["seed"] and card["training"]["files"]


@pytest.mark.parametrize("damage", ["missing", "garbled", "other_features"])
def test_a_damaged_model_is_refused_with_the_rebuild_hint(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    if damage == "missing":
        (folder / "spans.txt").unlink()
    elif damage == "garbled":
        (folder / "ranker.txt").write_text("not a model", encoding="utf-8")
    else:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        meta["sentence_features"] = meta["sentence_features"][:-1]
        (folder / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="jbqa train"):
        ReaderModel.load(folder)


def test_an_interrupted_write_of_the_scored_questions_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jbqa.answerer import training

    monkeypatch.setattr(training, "outcomes_key", lambda data_dir, depth: "0" * 64)
    monkeypatch.setattr(training, "collect", lambda data_dir, workdir, progress: (None, None))
    monkeypatch.setattr(training, "out_of_fold", lambda data, depth: ["not an outcome"])
    cache = tmp_path / "cache"

    with pytest.raises(TypeError):  # fails while writing its file
        training.cached_out_of_fold(tmp_path, 4, progress=False, cache=cache, log=lambda line: None)

    assert list(cache.iterdir()) == []


def _aged(path: Path, days: float) -> Path:
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))
    return path


def test_a_new_cache_entry_removes_those_of_its_kind_unused_for_a_month(tmp_path: Path) -> None:
    from jbqa.answerer.training import STALE_DAYS, prune_stale, used

    key = "0123456789abcdef01234567"
    new = tmp_path / f"out-of-fold-{key}.jsonl.gz"
    new.write_bytes(b"")
    stale = tmp_path / f"out-of-fold-{'a' * 24}.jsonl.gz"
    stale.write_bytes(b"")
    _aged(stale, STALE_DAYS + 1)
    recent = tmp_path / f"out-of-fold-{'b' * 24}.jsonl.gz"
    recent.write_bytes(b"")
    _aged(recent, STALE_DAYS - 1)
    read_back = tmp_path / f"out-of-fold-{'c' * 24}.jsonl.gz"
    read_back.write_bytes(b"")
    used(_aged(read_back, STALE_DAYS + 5))  # read back today: in use
    other_kind = tmp_path / f"readings-{'d' * 24}.jsonl.gz"
    other_kind.write_bytes(b"")
    _aged(other_kind, STALE_DAYS + 1)
    not_jbqas = tmp_path / "out-of-fold-notes.txt"
    not_jbqas.write_text("kept", encoding="utf-8")
    _aged(not_jbqas, STALE_DAYS + 1)
    readers = tmp_path / f"fold-readers-{'e' * 24}"
    (readers / "fold0").mkdir(parents=True)
    _aged(readers, STALE_DAYS + 1)

    said: list[str] = []
    assert prune_stale(new, said.append) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (new, recent, read_back, other_kind, not_jbqas, readers))
    assert said == [f"training cache: removed 1 out-of-fold entries unused for {STALE_DAYS} days"]
    fresh = tmp_path / f"fold-readers-{'f' * 24}"
    fresh.mkdir()
    assert prune_stale(fresh, said.append) == [readers]  # a folder of fold readers goes whole
    assert prune_stale(new, said.append) == []
    with pytest.raises(ValueError, match="not an entry"):
        prune_stale(not_jbqas)
