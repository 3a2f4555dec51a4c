"""Word knowledge that keyword matching lacks: how close two Chinese words are in meaning.

Two general resources, both from the `cnsyn` package (Apache-2.0):
  * 129,691 word vectors (75-d), derived by cnsyn from PaddleNLP's Chinese word vectors;
  * the HIT Tongyici Cilin (Extended) thesaurus lines that cnsyn ships in
    `chinese_dictionary/sim_words.txt` (each line: words of one synonym group).

cnsyn keeps its vectors inside a joblib-pickled scikit-learn BallTree that only an old
scikit-learn can load. `extract_lexicon` reads that file once, at build time, with a restricted
unpickler that builds no scikit-learn object (every class it meets is either a plain state holder
or refused), and writes plain files that `Lexicon.load` reads with `allow_pickle=False`:

    vectors.npy     float16, one unit-length row per word
    words.txt       the words, normalize_chars'd, one per line, row order
    thesaurus.txt   one synonym group per line, words separated by spaces
    info.json       source package and version, licence, format version, SHA-256 of vectors.npy

Similarity of two words (in [0, 1]):
  1.0                   same string, or listed in one thesaurus line;
  cos(u, v) clipped     the word vectors' cosine, otherwise;
  × THESAURUS_DISCOUNT  when the thesaurus knows both words but does not group them: word vectors
                        put antonyms and co-hyponyms (buy/sell, north/south) as close as synonyms,
                        and the thesaurus is the evidence that they are not synonyms.
A word with no vector is given the mean vector of its in-vocabulary jieba pieces (else of its
characters). Words without a CJK character (numbers, Latin) match only themselves.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from jbqa.config import cache_home
from jbqa.index.checksum import sha256_file
from jbqa.index.paths import foreign_content
from jbqa.ingest.normalize import normalize_chars

FORMAT_VERSION = 1
PACKAGE = "cnsyn"
PACKAGE_LICENCE = "Apache-2.0"
_TREE_FILE = "cnsyn/query/words_tree_mini.m"
_GROUPS_FILE = "cnsyn/chinese_dictionary/sim_words.txt"
# sim_words.txt: the first lines are groups mined from Wikipedia (noisy: colours, hexagrams), the
# rest are the Cilin lines, in Cilin's order. cnsyn's own index builder splits the file here.
_FIRST_CILIN_LINE = 28043
THESAURUS_DISCOUNT = 0.8
_CACHE_LIMIT = 200_000
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class LexiconMissing(RuntimeError):
    """The extracted lexicon files are not there (extract them at build time) or are damaged."""


class LexiconPathRefused(LexiconMissing):
    """Something that is not a jbqa lexicon is where the lexicon would be extracted; it is kept."""


# --- build time: read cnsyn's files -----------------------------------------------------------


class _State:
    """Stands for any scikit-learn object in the pickle: keeps its constructor arguments and state."""

    def __init__(self, *args: Any) -> None:
        self.args = args
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _new_obj(cls: type, *args: Any) -> Any:  # scikit-learn's `newObj(cls)` helper
    return cls(*args)


class _ArrayWrapper:
    """joblib's NumpyArrayWrapper: its state says the shape and dtype of the raw bytes that follow."""

    dtype: Any
    shape: Any
    order: str

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class _RestrictedUnpickler(pickle._Unpickler):
    """Reads a joblib pickle of numpy arrays and scikit-learn objects without importing either's classes.

    Only numpy's `ndarray` and `dtype` are real; scikit-learn classes become `_State`; anything else
    is refused. joblib writes each array's bytes right after its wrapper's BUILD opcode.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("joblib.numpy_pickle", "NumpyArrayWrapper"):
            return _ArrayWrapper
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module.startswith("sklearn."):
            return _new_obj if name == "newObj" else type(name, (_State,), {})
        raise pickle.UnpicklingError(f"refusing {module}.{name}")

    def load_build(self) -> None:
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        wrapper = self.stack[-1]  # type: ignore[attr-defined]
        if isinstance(wrapper, _ArrayWrapper):
            dtype = np.dtype(wrapper.dtype)
            if dtype.hasobject:
                raise pickle.UnpicklingError("arrays of Python objects are refused")
            if getattr(wrapper, "numpy_array_alignment_bytes", None) is not None:  # newer joblib pads
                self.read(self.read(1)[0])  # type: ignore[attr-defined]
            shape = [int(n) for n in wrapper.shape]
            raw = self.read(int(np.prod(shape)) * dtype.itemsize)  # type: ignore[attr-defined]
            flat = np.frombuffer(raw, dtype=dtype)
            array = flat.reshape(shape, order="F") if wrapper.order == "F" else flat.reshape(shape)
            self.stack[-1] = array  # type: ignore[attr-defined]

    dispatch[pickle.BUILD[0]] = load_build  # type: ignore[assignment]


def read_tree_file(handle: BinaryIO) -> tuple[list[str], np.ndarray]:
    """The words and vectors of cnsyn's `words_tree_mini.m` (a dict of a BallTree and a word list)."""
    loaded = _RestrictedUnpickler(handle).load()
    words = loaded["words"]
    vectors = loaded["model"].state[0]  # BallTree state: (data, idx_array, node_data, node_bounds, ...)
    if not (isinstance(vectors, np.ndarray) and vectors.ndim == 2 and len(words) == len(vectors)):
        raise ValueError("unexpected content in the word-vector file")
    return [str(w) for w in words], vectors


def _source_files() -> tuple[str, Path, Path]:
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise LexiconMissing(f"the {PACKAGE} package is not installed (it is a dependency of jbqa)") from exc
    # Located, not imported: importing cnsyn loads its pickle with scikit-learn.
    tree, groups = Path(str(dist.locate_file(_TREE_FILE))), Path(str(dist.locate_file(_GROUPS_FILE)))
    if not (tree.is_file() and groups.is_file()):
        raise LexiconMissing(f"{PACKAGE} {dist.version} lacks {_TREE_FILE} or {_GROUPS_FILE}")
    return dist.version, tree, groups


def extract_lexicon(out_dir: Path) -> dict[str, Any]:
    """Write the lexicon files from the installed cnsyn into `out_dir` (made afresh, atomically).

    Runs at build time; it is the only place that reads cnsyn's pickle. Returns info.json's content.
    """
    found = foreign_content(out_dir, lambda d: _info(d) is not None, "lexicon")
    if found:  # the extraction replaces the folder: never one that holds anything else
        raise LexiconPathRefused(f"refusing to write the word lexicon at {out_dir}: it is {found}; "
                                 "choose another JBQA_LEXICON")
    version, tree, groups_path = _source_files()
    with open(tree, "rb") as handle:
        raw_words, raw_vectors = read_tree_file(handle)
    keep: dict[str, int] = {}  # normalised word -> row of its first spelling
    for row, word in enumerate(raw_words):
        key = normalize_chars(word).strip()
        if key and not any(c.isspace() for c in key):
            keep.setdefault(key, row)
    vectors = raw_vectors[list(keep.values())].astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float16)
    lines = groups_path.read_text(encoding="utf-8").splitlines()
    if len(lines) <= _FIRST_CILIN_LINE:
        raise LexiconMissing(f"{groups_path} is shorter than expected")
    groups = []
    for line in lines[_FIRST_CILIN_LINE:]:
        group = list(dict.fromkeys(normalize_chars(w) for w in line.split()))
        if len(group) > 1:
            groups.append(" ".join(group))

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    try:
        mask = os.umask(0)
        os.umask(mask)
        tmp.chmod(0o777 & ~mask)  # mkdtemp makes it 0700; the lexicon is as readable as any new folder
        np.save(tmp / "vectors.npy", vectors, allow_pickle=False)
        (tmp / "words.txt").write_text("\n".join(keep) + "\n", encoding="utf-8")
        (tmp / "thesaurus.txt").write_text("\n".join(groups) + "\n", encoding="utf-8")
        info = {
            "format_version": FORMAT_VERSION,
            "source": {"package": PACKAGE, "version": version, "licence": PACKAGE_LICENCE,
                       "files": [_TREE_FILE, f"{_GROUPS_FILE} (lines {_FIRST_CILIN_LINE + 1}-: HIT Tongyici Cilin)"]},
            "words": len(keep),
            "dim": int(vectors.shape[1]),
            "groups": len(groups),
            "vectors_sha256": sha256_file(tmp / "vectors.npy"),
        }
        (tmp / "info.json").write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir, ignore_errors=True)
        try:
            os.replace(tmp, out_dir)
        except OSError:
            if not _is_complete(out_dir):  # not another process's extraction that finished first
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def default_lexicon_dir() -> Path:
    """$JBQA_LEXICON, else ~/.cache/jbqa/lexicon/cnsyn-<version>-f<format> (XDG_CACHE_HOME respected)."""
    if os.environ.get("JBQA_LEXICON"):
        return Path(os.environ["JBQA_LEXICON"])
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "missing"
    return cache_home() / "lexicon" / f"{PACKAGE}-{version}-f{FORMAT_VERSION}"


def _info(directory: Path) -> dict[str, Any] | None:
    """info.json of a lexicon that jbqa extracted (any format), else None."""
    try:
        info = json.loads((directory / "info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and {"format_version", "vectors_sha256"} <= info.keys() else None


def _is_complete(directory: Path) -> bool:
    info = _info(directory)
    return info is not None and info["format_version"] == FORMAT_VERSION


def _is_intact(directory: Path) -> bool:
    """Complete, and its vectors are the ones info.json names."""
    info = _info(directory)
    if info is None or info["format_version"] != FORMAT_VERSION:
        return False
    try:
        return sha256_file(directory / "vectors.npy") == info["vectors_sha256"]
    except OSError:
        return False


def ensure_lexicon(directory: Path | None = None) -> Path:
    """Build-time step: extract the lexicon unless it is there and intact (a damaged or older one is
    extracted again). Returns its folder; LexiconPathRefused when something else is there."""
    directory = Path(directory) if directory else default_lexicon_dir()
    if not _is_intact(directory):
        extract_lexicon(directory)
    return directory


def lexicon_info(directory: Path | None = None) -> dict[str, Any]:
    """info.json of the lexicon at `directory` (default folder): what the index manifest records."""
    directory = Path(directory) if directory else default_lexicon_dir()
    info = _info(directory)
    if info is None:
        raise LexiconMissing(f"no lexicon at {directory}; `jbqa build` extracts it")
    return info


# --- query time: plain files only ---------------------------------------------------------------


def _has_cjk(word: str) -> bool:
    return _CJK.search(word) is not None


class Lexicon:
    """Word similarity and soft coverage. Words are expected normalised by `normalize_chars`."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray, groups: Iterable[Sequence[str]] = ()) -> None:
        if len(words) != len(vectors):
            raise ValueError("one vector per word")
        self._row = {w: i for i, w in enumerate(words)}
        vectors = np.asarray(vectors)
        norms = np.linalg.norm(vectors.astype(np.float32), axis=1, keepdims=True)
        if not np.allclose(norms[norms > 0], 1.0, atol=1e-2):
            vectors = vectors / np.where(norms > 0, norms, 1.0)
        self._vectors = vectors
        self.dim = int(vectors.shape[1])
        lines: dict[str, list[int]] = {}
        for g, group in enumerate(groups):
            for w in dict.fromkeys(group):
                lines.setdefault(w, []).append(g)
        self._lines = {w: tuple(ids) for w, ids in lines.items()}
        # Corpus words get a slot as they are met: a row of `_table` (their unit vector, zeros when none),
        # whether the thesaurus knows them, and their thesaurus lines. Slots are kept for the life of the
        # lexicon, so that a sentence's slots can be worked out once.
        self._growing = threading.Lock()
        self._slots: dict[str, int] = {}
        self._table = np.zeros((1024, self.dim), np.float32)
        self._known = np.zeros(1024, dtype=bool)
        self._line_slots: dict[int, list[int]] = {}  # thesaurus line -> slots of its words
        self._entries: dict[str, tuple[np.ndarray | None, tuple[int, ...]]] = {}  # question words

    @classmethod
    def load(cls, directory: Path | None = None, verify: bool = True) -> Lexicon:
        """Read the extracted files (see `ensure_lexicon`); raises LexiconMissing if absent or damaged."""
        directory = Path(directory) if directory else default_lexicon_dir()
        if not _is_complete(directory):
            raise LexiconMissing(f"no lexicon at {directory}; `jbqa build` extracts it")
        info = json.loads((directory / "info.json").read_text(encoding="utf-8"))
        if verify and sha256_file(directory / "vectors.npy") != info["vectors_sha256"]:
            raise LexiconMissing(f"{directory / 'vectors.npy'} is damaged; `jbqa build` extracts it again")
        vectors = np.load(directory / "vectors.npy", allow_pickle=False)
        words = (directory / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
        groups = [line.split() for line in (directory / "thesaurus.txt").read_text(encoding="utf-8").splitlines()]
        return cls(words, vectors, groups)

    def __contains__(self, word: object) -> bool:
        return word in self._row or word in self._lines

    def in_thesaurus(self, word: str) -> bool:
        return word in self._lines

    def _slot(self, word: str) -> int:
        slot = self._slots.get(word)
        if slot is not None:
            return slot
        vector = self._vector(word)
        with self._growing:  # answers are found on several threads at once
            slot = self._slots.get(word)
            if slot is not None:
                return slot
            slot = len(self._slots)
            if slot == len(self._table):  # a new table, so that a reader holding the old one is unaffected
                self._table = np.concatenate([self._table, np.zeros_like(self._table)])
                self._known = np.concatenate([self._known, np.zeros_like(self._known)])
            self._table[slot] = vector if vector is not None else 0.0
            lines = self._lines.get(word, ())
            self._known[slot] = bool(lines)
            for line in lines:
                self._line_slots.setdefault(line, []).append(slot)
            self._slots[word] = slot  # last: a slot is seen only once its row is written
        return slot

    def slots(self, words: Sequence[str]) -> np.ndarray:
        """The slots of a text's words (intp), for `soft_coverage_slots`."""
        return np.fromiter((self._slot(w) for w in words), dtype=np.intp, count=len(words))

    def _entry(self, word: str) -> tuple[np.ndarray | None, tuple[int, ...]]:
        """(unit vector or None, thesaurus lines) of a question word, cached up to a limit."""
        hit = self._entries.get(word)
        if hit is None:
            if len(self._entries) >= _CACHE_LIMIT:
                self._entries.clear()
            hit = self._entries[word] = (self._vector(word), self._lines.get(word, ()))
        return hit

    def _vector(self, word: str) -> np.ndarray | None:
        """The unit vector of a word with a CJK character: its own, else composed of its parts."""
        if not _has_cjk(word):
            return None
        row = self._row.get(word)
        if row is not None:
            return self._vectors[row].astype(np.float32)
        return self._composed(word)

    def _composed(self, word: str) -> np.ndarray | None:
        import jieba

        rows = [self._row[p] for p in jieba.lcut(word) if p != word and p in self._row]
        if not rows:
            rows = [self._row[c] for c in word if c in self._row]
        if not rows:
            return None
        v = self._vectors[rows].astype(np.float32).mean(axis=0)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else None

    def similarity(self, a: str, b: str) -> float:
        """Closeness in meaning of two words, in [0, 1]."""
        return float(self.similarity_matrix([a], [b])[0, 0])

    def similarity_matrix(self, a_words: Sequence[str], b_words: Sequence[str]) -> np.ndarray:
        """float32 array (len(a_words), len(b_words)) of `similarity`."""
        return self._similarities(a_words, self.slots(b_words))

    def _similarities(self, a_words: Sequence[str], b: np.ndarray) -> np.ndarray:
        """`similarity` of question words to the words in slots `b`: float32 (len(a_words), len(b))."""
        entries = [self._entry(w) for w in a_words]
        a_table = np.zeros((len(a_words), self.dim), np.float32)
        for i, (vector, _) in enumerate(entries):
            if vector is not None:
                a_table[i] = vector
        sims = np.clip(a_table @ self._table[b].T, 0.0, 1.0)  # words without a vector: 0
        a_known = np.array([bool(lines) for _, lines in entries], dtype=bool)
        b_known = self._known[b]
        if a_known.any() and b_known.any():
            sims[np.ix_(a_known, b_known)] *= THESAURUS_DISCOUNT
            for i, (_, lines) in enumerate(entries):  # words on one thesaurus line
                grouped = [slot for line in lines for slot in self._line_slots.get(line, ())]
                if grouped:
                    sims[i, np.isin(b, grouped)] = 1.0
        for i, w in enumerate(a_words):  # the same word
            slot = self._slots.get(w)
            if slot is not None:
                sims[i, b == slot] = 1.0
        return sims.astype(np.float32, copy=False)

    def soft_coverage(self, question_words: Sequence[str], sentence_words: Sequence[str]) -> np.ndarray:
        """For each question word, its best similarity to any sentence word: float32 (len(question_words),)."""
        return self.soft_coverage_many(question_words, [sentence_words])[0]

    def soft_coverage_many(
        self, question_words: Sequence[str], sentences: Sequence[Sequence[str]]
    ) -> np.ndarray:
        """`soft_coverage` of many sentences at once: float32 (len(sentences), len(question_words))."""
        return self.soft_coverage_slots(question_words, [self.slots(words) for words in sentences])

    def soft_coverage_slots(self, question_words: Sequence[str], sentences: Sequence[np.ndarray]) -> np.ndarray:
        """`soft_coverage_many` of sentences given by the slots of their words (`slots`): one matrix
        product over their distinct words, then a max per sentence."""
        out = np.zeros((len(sentences), len(question_words)), dtype=np.float32)
        lengths = np.array([len(s) for s in sentences], dtype=np.intp)
        if not question_words or not lengths.sum():
            return out
        flat = np.concatenate([s for s in sentences if len(s)])
        distinct, at = np.unique(flat, return_inverse=True)
        sims = self._similarities(question_words, distinct)
        filled = np.flatnonzero(lengths)
        starts = np.concatenate(([0], np.cumsum(lengths[filled])[:-1]))
        out[filled] = np.maximum.reduceat(sims[:, at], starts, axis=1).T
        return out


def weighted_coverage(coverage: np.ndarray, weights: Sequence[float] | np.ndarray) -> np.ndarray | float:
    """Weighted mean of soft coverage over the question words (e.g. weights = their idf).

    `coverage` is `soft_coverage`'s 1-d or `soft_coverage_many`'s 2-d result; 0 when all weights are 0.
    """
    w = np.asarray(weights, dtype=np.float32)
    total = float(w.sum())
    if total <= 0:
        return 0.0 if coverage.ndim == 1 else np.zeros(coverage.shape[0], dtype=np.float32)
    result = coverage @ w / total
    return float(result) if coverage.ndim == 1 else result


@lru_cache(maxsize=4)
def _load_once(directory: Path) -> Lexicon:
    return Lexicon.load(ensure_lexicon(directory), verify=False)  # ensure_lexicon checked the vectors


def default_lexicon() -> Lexicon:
    """The lexicon of `default_lexicon_dir()`, extracted there if this machine has none yet (a
    one-time step that `jbqa build` normally takes), loaded once per process and folder."""
    return _load_once(default_lexicon_dir())
