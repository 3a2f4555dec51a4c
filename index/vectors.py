"""Document vectors already computed, by embedder and text: a rebuild embeds only new text.

One SQLite file in jbqa's models folder for each embedder that names itself by the hash of its
weights (`cache_key`) holds the vector of every text it embedded, keyed by the text's SHA-256.
Pages of 16 KiB keep a 384-d float32 vector in its row (with SQLite's default 4 KiB pages each
such row spilled onto a page of its own: 4.7 KB a vector against 1.9 KB).
A cache that cannot be opened or read is passed over: the texts are embedded as if it were empty.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from jbqa.progress import progress as progress_bar

log = logging.getLogger(__name__)

EMBED_BATCH = 64
PAGE_BYTES = 16384
_LOOKUP_CHUNK = 500  # keys per SELECT (SQLite's limit on parameters is 32,766 in current builds)


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Give the C heap's free pages back to the system (glibc's malloc_trim); False where there is
    no such call. A model's batches of many shapes leave the heap fragmented: embedding 4,000
    sentences grew the resident set from 0.9 to 1.5 GB; trimmed after each batch it stayed at
    1.1 GB, for 2-4% more time (a 1e5-passage build's embedding peaked at 2.4 GB instead of 2.9)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def cache_file(folder: Path, embedder_key: str) -> Path:
    """The cache file of the embedder named `embedder_key` in `folder`."""
    return folder / f"vectors-{hashlib.sha256(embedder_key.encode('utf-8')).hexdigest()[:16]}.sqlite"


class VectorCache:
    def __init__(self, folder: Path, embedder_key: str) -> None:
        self.path = cache_file(folder, embedder_key)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.execute(f"PRAGMA page_size={PAGE_BYTES}")  # takes effect when the file is new
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS vectors (text BLOB PRIMARY KEY, vector BLOB) WITHOUT ROWID")
        return db

    def lookup(self, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        try:
            with self._connect() as db:
                for i in range(0, len(keys), _LOOKUP_CHUNK):
                    chunk = list(keys[i : i + _LOOKUP_CHUNK])
                    marks = ",".join("?" * len(chunk))
                    found.update(db.execute(f"SELECT text, vector FROM vectors WHERE text IN ({marks})", chunk))
        except sqlite3.Error as exc:
            log.warning("vector cache %s not read (%s)", self.path, exc)
            return {}
        return found

    def store(self, items: Sequence[tuple[bytes, np.ndarray]]) -> None:
        try:
            with self._connect() as db:
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                               [(k, v.astype(np.float32).tobytes()) for k, v in items])
        except sqlite3.Error as exc:
            log.warning("vector cache %s not written (%s)", self.path, exc)


def embed_with_cache(
    encode: Callable[[list[str]], np.ndarray], texts: Sequence[str], dim: int, cache: VectorCache | None,
    progress: bool = False, label: str = "Embed",
) -> tuple[np.ndarray, int]:
    """The vectors of `texts` (one row each, float32) and how many of them had to be computed;
    `encode` embeds a batch, `cache` (if any) holds earlier results."""
    keys = [text_key(t) for t in texts]
    known = cache.lookup(sorted(set(keys))) if cache else {}
    vectors = np.zeros((len(texts), dim), np.float32)
    todo: dict[bytes, list[int]] = {}
    for i, key in enumerate(keys):
        if key in known:
            vectors[i] = np.frombuffer(known[key], np.float32)
        else:
            todo.setdefault(key, []).append(i)
    # Texts of like length batched together pad little: 1.6x the sentences a second of batches in
    # corpus order (3,000 DRCD sentences, multilingual-e5-small, 2 cores); passages, packed to
    # about the same length, gain nothing.
    first = sorted((rows[0] for rows in todo.values()), key=lambda i: (len(texts[i]), i))
    for start in progress_bar(range(0, len(first), EMBED_BATCH), label, "batch", progress):
        batch = first[start : start + EMBED_BATCH]
        computed = encode([texts[i] for i in batch])
        release_freed_memory()
        for i, vector in zip(batch, computed, strict=True):
            vectors[todo[keys[i]]] = vector
        if cache:
            cache.store([(keys[i], v) for i, v in zip(batch, computed, strict=True)])
    return vectors, len(first)
