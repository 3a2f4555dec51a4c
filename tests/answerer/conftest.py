"""Fixtures of the neural reader's tests: SQuAD-format training files of a few made-up facts, a
tiny packed e5 model, and a neural reader trained over it in a small configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_e5 import FACTS, SMALL_READER, fact_context, write_packed

from jbqa.answerer import neural_training
from jbqa.eval.squad import SquadContext


def _squad(contexts: list[SquadContext]) -> dict:
    return {"data": [{"title": c.title, "paragraphs": [{"id": c.id, "context": c.context, "qas": [
        {"id": q.id, "question": q.question, "answers": [{"text": a.text, "answer_start": a.start} for a in q.answers]}
        for q in c.questions]}]} for c in contexts]}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mrc")
    contexts = [fact_context(k, *FACTS[k % len(FACTS)]) for k in range(40)]
    for name, part in (("cmrc2018_trial.json", contexts[:20]), ("DRCD_dev.json", contexts[20:])):
        (folder / name).write_text(json.dumps(_squad(part), ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("packed") / "tiny-q4.bin"
    write_packed(path, layers=2)
    return path


@pytest.fixture()
def trained_reader(data: Path, packed: Path, tmp_path: Path) -> Path:
    """A neural reader trained on `data` over `packed` (a folder of its own for each test)."""
    folder = tmp_path / "reader"
    neural_training.train(data, folder, SMALL_READER, log=lambda line: None, packed=packed)
    return folder
