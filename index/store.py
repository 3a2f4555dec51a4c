"""Build, save and load the index folder.

Layout (everything a reader needs to know is in manifest.json):
    manifest.json   format version, library versions, embedder, FAISS factory, tokenizer, BM25 params,
                    passage count, corpus file hashes, build time, skipped files
    passages.jsonl  one Passage per line (UTF-8)
    faiss.index     dense vectors
    bm25/           bm25s index over jieba tokens
    words/          every passage cut into words with their parts of speech
    sentences.npy   a vector for every sentence (passage after passage), for the reader (none
                    with the offline embedder)
    embedder/       the offline embedder's parameters (empty for sentence-transformers models)
    sources/        the decoded text of every indexed file (what char/line offsets refer to)

The folder is written under a temporary name and swapped in, so a failed build never
damages the index that was there before. A build holds a lock on its temporary folder; the next
build removes the unlocked ones that killed builds left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from jbqa.index.bm25 import K1, METHOD, B, BM25Index
from jbqa.index.checksum import sha256_file
from jbqa.index.dense import DenseIndex
from jbqa.index.e5 import models_dir
from jbqa.index.embedders import (
    OFFLINE_KIND,
    Embedder,
    EmbedderUnavailable,
    OfflineEmbedder,
    embedder_provenance,
    load_embedder,
    resolve_embedder,
)
from jbqa.index.lexicon import ensure_lexicon, lexicon_info
from jbqa.index.paths import foreign_content
from jbqa.index.tokenize import TOKENIZER_NAME, Analysed, analyse, index_terms_from_tokens
from jbqa.index.vectors import VectorCache, embed_with_cache
from jbqa.index.words import WordTable
from jbqa.ingest import Passage, ingest_corpus
from jbqa.ingest.metadata import SIDECAR, DocumentMeta, sidecar_sha256
from jbqa.ingest.pipeline import list_corpus
from jbqa.ingest.reader import UnreadableFile, read_source
from jbqa.progress import progress as progress_bar

try:
    import fcntl
except ImportError:  # not POSIX: no locks, stale temporary folders are told by their age alone
    fcntl = None  # type: ignore[assignment]

# 2: the manifest holds the SHA-256 of every file; 3: words/ (each passage cut into words);
# 4: sentences.npy (a vector for every sentence)
FORMAT_VERSION = 4
SENTENCE_VECTORS = "sentences.npy"
MANIFEST = "manifest.json"
_LIBRARIES = ("jbqa", "faiss-cpu", "bm25s", "jieba", "numpy", "sentence-transformers", "opencc")
# Temporary folders older than this and unlocked were left by builds that died.
_STARTED = time.time()


class IndexUnusable(RuntimeError):
    """A missing, corrupted or mismatched index; the message says how to rebuild."""


class IndexPathRefused(IndexUnusable):
    """A path jbqa will not write an index to, because something that is not a jbqa index is there."""


BUILD_MARKER = ".jbqa-build"  # written first into every temporary build folder: it is jbqa's to remove


def _rebuild_hint(directory: Path) -> str:
    if index_path_free(directory):
        return f"rebuild it with: jbqa build --index {directory}"
    # Its manifest no longer says it is an index, so a build will not replace it by itself.
    return f"remove it, then rebuild it with: jbqa build --index {directory}"


def _looks_like_index(directory: Path) -> bool:
    """Holds the files of an index (a damaged one, with no readable manifest)."""
    return any((directory / name).exists() for name in ("passages.jsonl", "faiss.index", "bm25", "embedder"))


def is_jbqa_index(directory: Path) -> bool:
    """A folder whose manifest says it is a jbqa index."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(manifest, dict) and {"format_version", "embedder", "corpus"} <= manifest.keys()


def _what_is_at(path: Path) -> str | None:
    """None when jbqa may write an index at `path`; otherwise what is there, for the refusal."""
    return foreign_content(path, is_jbqa_index, "index")


def index_path_free(path: Path) -> bool:
    """Whether jbqa may create or replace an index at `path`."""
    return _what_is_at(path) is None


def check_index_target(index_dir: Path, corpus_dir: Path | None = None) -> None:
    """Refuse, before anything is written, an index path that holds what jbqa did not create, or
    that is the corpus, inside it, or holds it."""
    found = _what_is_at(index_dir)
    if found:
        raise IndexPathRefused(f"refusing to write an index at {index_dir}: it is {found}; choose another --index")
    if corpus_dir is not None:
        index, corpus = index_dir.resolve(), corpus_dir.resolve()
        if index == corpus or corpus in index.parents or index in corpus.parents:
            raise IndexPathRefused(
                f"refusing to write an index at {index_dir}: it is, holds or lies inside the corpus folder "
                f"{corpus_dir}; choose another --index"
            )


@dataclass
class LoadedIndex:
    directory: Path
    manifest: dict[str, Any]
    passages: list[Passage]
    embedder: Embedder
    dense: DenseIndex
    bm25: BM25Index
    words: WordTable
    sources: dict[str, str] = field(default_factory=dict)
    # One unit vector per sentence, passage after passage, by the index's embedder.
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def documents(self) -> dict[str, DocumentMeta]:
        """Title, date, publisher and URL of each indexed file."""
        known = self.manifest["corpus"].get("documents", {})
        return {name: DocumentMeta.from_dict(known.get(name, {"file": name})) for name in self.sources}

    @property
    def embedder_label(self) -> str:
        info = self.manifest["embedder"]
        return f"{info['name']} ({info['package']})" if info.get("package") else f"{info['kind']}:{info['name']}"


def corpus_checksum(hashes: dict[str, str]) -> str:
    joined = "\n".join(f"{name}\t{digest}" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(joined.encode()).hexdigest()


def library_versions(libraries: tuple[str, ...] = _LIBRARIES) -> dict[str, str]:
    """Installed version of each distribution, or "not installed"."""
    versions = {}
    for lib in libraries:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = "not installed"
    return versions


def span_reader_field(span_reader: str | None) -> dict[str, str]:
    """The manifest's record of the reader chosen for an index: 'light', a neural reader by name or
    path, or none chosen (`ask`, `eval` and `serve` then use the default reader)."""
    if span_reader is None:
        return {"kind": "default"}
    if span_reader == "light":
        return {"kind": "light"}
    return {"kind": "neural", "name": span_reader}


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder_spec: str = "auto",
    progress: bool = False,
    factory: str | None = None,
    reader: str | None = None,
    span_reader: str | None = None,
) -> LoadedIndex:
    """Ingest `corpus_dir`, embed and index its passages, and write `index_dir` atomically.
    `reader` names the light reader's version, for the manifest; `span_reader` the reader chosen
    for the index ('light', or a neural reader's name or path; None: none chosen, the default
    applies when it is asked).
    A second build of the same index while one runs is refused."""
    check_index_target(index_dir, corpus_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(index_dir, remove=True) as held:
        if not held:
            raise BuildRunning(f"another build of {index_dir} is running; wait for it to finish")
        return _build(corpus_dir, index_dir, embedder_spec, progress, factory, reader, span_reader)


def _build(
    corpus_dir: Path, index_dir: Path, embedder_spec: str, progress: bool, factory: str | None, reader: str | None,
    span_reader: str | None = None,
) -> LoadedIndex:
    started = time.time()
    lexicon = lexicon_info(ensure_lexicon())  # the reader's word knowledge, extracted once per machine
    report = ingest_corpus(corpus_dir, progress=progress)
    if not report.passages:
        raise IndexUnusable(f"no readable text in {corpus_dir}; skipped: {report.skipped or 'no .txt/.md files'}")
    texts = [p.text for p in report.passages]
    model = resolve_embedder(embedder_spec)
    # Each passage is segmented once: its jieba tokens give both its BM25 terms and, for the
    # offline embedder, its features. Terms are interned, one string object per distinct term.
    analysed = [
        Analysed(a.normalized, list(map(sys.intern, a.tokens)))
        for a in map(analyse, progress_bar(texts, "Tokenize", "passage", progress))
    ]
    embedder: Embedder
    if model is None:
        embedder, vectors = OfflineEmbedder.fit_transform(texts, progress=progress, analysed=analysed)
    else:
        embedder = model
    cache = VectorCache(models_dir(), embedder.cache_key) if embedder.cache_key else None
    embedded_passages = len(texts)
    if model is not None:
        vectors, embedded_passages = embed_with_cache(
            embedder.encode_documents, texts, embedder.dim, cache, progress, "Embed passages"
        )
    # The reader compares questions with sentences in a model's space; the offline embedder would
    # only segment every sentence again to give what coverage features already say.
    sentence_vectors, embedded_sentences = np.zeros((0, embedder.dim), np.float32), 0
    if model is not None:
        sentence_vectors, embedded_sentences = embed_with_cache(
            embedder.encode_documents, [p.sentence_text(s) for p in report.passages for s in p.sentences],
            embedder.dim, cache, progress, "Embed sentences",
        )
    dense = DenseIndex.build(vectors, factory)
    del vectors
    words = WordTable.build([a.normalized for a in progress_bar(analysed, "Words", "passage", progress)])
    terms = [list(map(sys.intern, index_terms_from_tokens(*a))) for a in analysed]
    del analysed
    bm25 = BM25Index.build(terms, progress=False)
    del terms
    hashes = {name: src.sha256 for name, src in report.sources.items()}
    manifest = {
        "format_version": FORMAT_VERSION,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.time() - started, 3),
        "libraries": library_versions(),
        "embedder": {
            "kind": embedder.kind,
            "name": embedder.name,
            "dim": embedder.dim,
            "normalized": True,
            "requested": embedder_spec,
            **embedder_provenance(embedder),
            # texts embedded by this build; the others' vectors came from the cache
            "embedded": {"passages": embedded_passages, "sentences": embedded_sentences},
        },
        "faiss": {"factory": dense.factory, "metric": "inner_product"},
        "tokenizer": TOKENIZER_NAME,
        "reader": reader,
        "span_reader": span_reader_field(span_reader),
        "bm25": {"k1": K1, "b": B, "method": METHOD},
        "lexicon": {key: lexicon[key] for key in ("source", "words", "groups", "vectors_sha256")},
        "passage_count": len(report.passages),
        "corpus": {
            "dir": str(corpus_dir.resolve()),
            "files": hashes,
            "encodings": {name: src.encoding for name, src in report.sources.items()},
            "checksum": corpus_checksum(hashes),
            "skipped": report.skipped,
            "metadata_sha256": report.sidecar_sha256,
            "documents": {name: meta.to_dict() for name, meta in report.documents.items()},
        },
    }
    _write_atomically(index_dir, manifest, report.passages, embedder, dense, bm25, words, report.sources,
                      sentence_vectors)
    return LoadedIndex(
        index_dir, manifest, report.passages, embedder, dense, bm25, words,
        {name: src.text for name, src in report.sources.items()}, sentence_vectors,
    )


def _write_atomically(index_dir, manifest, passages, embedder, dense, bm25, words, sources, sentence_vectors) -> None:  # type: ignore[no-untyped-def]
    check_index_target(index_dir)
    index_dir = index_dir.parent.resolve() / index_dir.name
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(index_dir)
    tmp = Path(tempfile.mkdtemp(dir=index_dir.parent, prefix=_temp_prefix(index_dir)))
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700; the index is as readable as any new folder
        (tmp / BUILD_MARKER).touch()
        with _locked(tmp):
            with open(tmp / "passages.jsonl", "w", encoding="utf-8") as out:
                for p in passages:
                    out.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
            dense.save(tmp / "faiss.index")
            bm25.save(tmp / "bm25")
            words.save(tmp / "words")
            np.save(tmp / SENTENCE_VECTORS, sentence_vectors, allow_pickle=False)
            embedder.save(tmp / "embedder")
            (tmp / "sources").mkdir()
            for name, src in sources.items():
                (tmp / "sources" / name).write_text(src.text, encoding="utf-8")
            manifest["checksums"] = file_checksums(tmp)
            (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
            _swap_in(tmp, index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_checksums(directory: Path) -> dict[str, str]:
    """SHA-256 of every file of an index folder but the manifest and the build marker, by relative path."""
    return {
        path.relative_to(directory).as_posix(): sha256_file(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name not in (MANIFEST, BUILD_MARKER)
    }


def verify_checksums(directory: Path, expected: dict[str, str]) -> None:
    """Raise IndexUnusable naming the first file whose content is not what the build wrote."""
    found = file_checksums(directory)
    for name, digest in expected.items():
        if found.get(name) != digest:
            state = "missing" if name not in found else "changed since it was built"
            raise IndexUnusable(f"index at {directory} is damaged ({name} {state}); " + _rebuild_hint(directory))
    extra = sorted(set(found) - set(expected))
    if extra:
        raise IndexUnusable(f"index at {directory} is damaged ({extra[0]} was not written by its build); "
                            + _rebuild_hint(directory))


def _temp_prefix(index_dir: Path) -> str:
    return f".{index_dir.name}.tmp-"


@contextmanager
def _locked(directory: Path) -> Iterator[bool]:
    """Hold an exclusive lock on `directory` for the block; yields False when another process holds it."""
    if fcntl is None:
        yield True
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except OSError:  # held by a running build, or no locks on this file system: either way, keep out
            locked = False
        yield locked
    finally:
        os.close(fd)


def _remove_stale_temp_dirs(index_dir: Path) -> None:
    """Remove the temporary folders of `index_dir` that killed builds left behind: only folders
    that hold the build marker, which every build writes first into its own.

    An empty one is removed too: a build killed between making its folder and writing the marker
    leaves it so (`rmdir` removes nothing else). A running build locks its folder; a folder newer
    than this process may belong to a build that has not locked it yet. Both are kept.
    """
    prefix = _temp_prefix(index_dir)
    for path in index_dir.parent.iterdir():
        if not path.name.startswith(prefix):
            continue
        try:
            if path.is_symlink() or path.stat().st_mtime >= _STARTED:
                continue
            if not (path / BUILD_MARKER).is_file():
                with contextlib.suppress(OSError):  # not empty: not known to be ours
                    path.rmdir()
                continue
            with _locked(path) as free:
                if free:
                    shutil.rmtree(path, ignore_errors=True)
        except OSError:  # gone meanwhile, or not ours to remove
            continue


def _backup_path(index_dir: Path) -> Path:
    return index_dir.parent / f".{index_dir.name}.previous"


def _restore_interrupted_swap(index_dir: Path) -> None:
    """After a swap cut between its two renames, the previous index is the backup: move it back."""
    backup = _backup_path(index_dir)
    if not index_dir.exists() and not index_dir.is_symlink() and not backup.is_symlink() and is_jbqa_index(backup):
        os.replace(backup, index_dir)


def _swap_in(tmp: Path, index_dir: Path) -> None:
    """Replace index_dir by tmp: two renames; `load_index` restores the backup if cut between them."""
    backup = _backup_path(index_dir)
    _restore_interrupted_swap(index_dir)  # else the backup, the only copy, would be deleted below
    _remove_backup(backup)
    check_index_target(index_dir)  # again: the path may have changed since the build began
    if index_dir.exists():
        os.replace(index_dir, backup)
    os.replace(tmp, index_dir)
    _remove_backup(backup)


def _remove_backup(backup: Path) -> None:
    """Delete the previous index that a swap set aside; anything else at that name is left alone.
    A backup that cannot be deleted (a read-only folder inside it) is renamed aside, so that it
    never blocks a later swap."""
    if backup.is_symlink() or not backup.exists():
        return
    if backup.is_dir() and not any(backup.iterdir()):  # an empty folder swapped aside: rmdir removes nothing else
        backup.rmdir()
        return
    if not is_jbqa_index(backup):
        raise IndexPathRefused(f"refusing to replace {backup}: it is not a jbqa index; move it away and build again")
    shutil.rmtree(backup, ignore_errors=True)
    if backup.exists():
        os.replace(backup, Path(tempfile.mkdtemp(dir=backup.parent, prefix=backup.name + "-stuck-")))


class BuildRunning(IndexUnusable):
    """Another build of the same index holds its lock."""


LOCK_WAIT_SECONDS = 10.0


LOCK_MARK = b"jbqa build lock\n"  # what a lock file that jbqa created holds
# A lock file deleted by its holder between our two opens is made anew at the next try; one that
# cannot be opened this many times running never will be.
_LOCK_OPEN_TRIES = 20


class LockUnavailable(IndexUnusable):
    """The build lock file cannot be created or opened where it must be."""


def _open_lock(path: Path) -> int:
    """Open the lock file, creating it (with LOCK_MARK) if it is not there; an existing file is
    opened as it is, never truncated."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:  # read-only and non-blocking: whatever is there is only locked and read
        return os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    os.write(fd, LOCK_MARK)
    return fd


def _is_our_lock(fd: int) -> bool:
    try:
        return os.pread(fd, len(LOCK_MARK) + 1, 0) == LOCK_MARK
    except OSError:  # a folder, or something else that cannot be read like a file
        return False


@contextmanager
def build_lock(index_dir: Path, wait: float = 0.0, remove: bool = False) -> Iterator[bool]:
    """Hold the lock that builds of `index_dir` take (a file beside it); yields whether it was had
    within `wait` seconds. With `remove`, the lock file is deleted before it is let go (a build
    leaves nothing behind), if it holds what jbqa writes into the lock files it creates: a file of
    someone else's at that name is locked but kept. A waiter that then holds a deleted file tries
    again."""
    if fcntl is None:
        yield True
        return
    path = index_dir.parent / f".{index_dir.name}.lock"
    deadline = time.monotonic() + wait
    vanished = 0
    while True:
        try:
            fd = _open_lock(path)
        except FileNotFoundError as exc:  # deleted between the two opens by the build that held it
            vanished += 1
            if path.is_symlink():
                raise LockUnavailable(f"cannot take the build lock {path}: it is a link to nothing; "
                                      "remove it or choose another --index") from exc
            if vanished >= _LOCK_OPEN_TRIES:  # no file can be made there (such as in /proc)
                raise LockUnavailable(f"cannot create the build lock {path} ({exc.strerror}); "
                                      "choose another --index") from exc
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(0.02)
            continue
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current != os.fstat(fd).st_ino:  # deleted by the holder before us: lock the new one
            os.close(fd)
            continue
        try:
            yield True
        finally:
            if remove and _is_our_lock(fd):
                path.unlink(missing_ok=True)
            os.close(fd)
        return


def index_exists(index_dir: Path) -> bool:
    return (index_dir / MANIFEST).is_file() or (_backup_path(index_dir) / MANIFEST).is_file()


def load_index(index_dir: Path) -> LoadedIndex:
    """Load and check an index folder; raise IndexUnusable saying how to rebuild when it is unusable."""
    given, index_dir = index_dir, index_dir.resolve()
    if not index_dir.exists() and _backup_path(index_dir).exists():
        # Set aside: a build may be between its two renames (wait for it), or one died there (restore).
        with build_lock(index_dir, wait=LOCK_WAIT_SECONDS) as held:
            if held:
                _restore_interrupted_swap(index_dir)
    manifest_path = index_dir / MANIFEST
    if not manifest_path.is_file():
        if index_path_free(given):
            raise IndexUnusable(f"no index at {given}; build it with: jbqa build --index {given}")
        if given.is_dir() and not given.is_symlink() and _looks_like_index(given):
            raise IndexUnusable(f"index at {given} is damaged (no manifest); " + _rebuild_hint(given))
        raise IndexUnusable(f"no index at {given}: it is {_what_is_at(given)}; choose another --index")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexUnusable(
                f"index at {index_dir} has format version {version}, this jbqa reads {FORMAT_VERSION}; "
                + _rebuild_hint(index_dir)
            )
        verify_checksums(index_dir, manifest["checksums"])
        with open(index_dir / "passages.jsonl", encoding="utf-8") as lines:
            passages = [Passage.from_dict(json.loads(line)) for line in lines if line.strip()]
        info = manifest["embedder"]
        embedder = load_embedder(info, index_dir / "embedder")
        dense = DenseIndex.load(index_dir / "faiss.index", manifest["faiss"]["factory"])
        bm25 = BM25Index.load(index_dir / "bm25")
        bm25.validate()
        words = WordTable.load(index_dir / "words")
        words.validate([len(p.text) for p in passages])
        sentence_vectors = np.load(index_dir / SENTENCE_VECTORS, allow_pickle=False)
        sources = {
            name: (index_dir / "sources" / name).read_text(encoding="utf-8") for name in manifest["corpus"]["files"]
        }
    except (IndexUnusable, EmbedderUnavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - any damage is reported the same way
        raise IndexUnusable(f"index at {index_dir} is damaged ({exc.__class__.__name__}: {exc}); "
                          + _rebuild_hint(index_dir)) from exc
    counts = {
        "manifest": manifest.get("passage_count"),
        "passages.jsonl": len(passages),
        "faiss.index": len(dense),
        "bm25": bm25.n_docs,
    }
    if len(set(counts.values())) != 1:
        raise IndexUnusable(f"index at {index_dir} is inconsistent (passage counts {counts}); " + _rebuild_hint(index_dir))
    beyond = next((p.id for p in passages if p.source not in sources or p.char_end > len(sources[p.source])), None)
    if beyond:
        raise IndexUnusable(
            f"index at {index_dir} is inconsistent (passage {beyond} points past its source text); "
            + _rebuild_hint(index_dir)
        )
    if dense.dim != embedder.dim or info["dim"] != embedder.dim:
        raise IndexUnusable(
            f"index at {index_dir} holds {dense.dim}-d vectors but embedder {info['name']} gives "
            f"{embedder.dim}-d; " + _rebuild_hint(index_dir)
        )
    sentences = sum(len(p.sentences) for p in passages) if embedder.kind != OFFLINE_KIND else 0
    if sentence_vectors.shape != (sentences, embedder.dim):
        raise IndexUnusable(f"index at {index_dir} is inconsistent ({SENTENCE_VECTORS} holds "
                            f"{sentence_vectors.shape} vectors for {sentences} sentences); " + _rebuild_hint(index_dir))
    return LoadedIndex(index_dir, manifest, passages, embedder, dense, bm25, words, sources, sentence_vectors)


def check_corpus(index: LoadedIndex, corpus_dir: Path) -> None:
    """Refuse an index built from other files than those now in `corpus_dir`: a listed file
    changed or gone, or a new readable file that the build never saw."""
    corpus = index.manifest["corpus"]
    built, skipped = corpus["files"], corpus.get("skipped", {})
    differs = []
    present = list_corpus(corpus_dir)
    for path in present:
        if path.name in built:
            try:
                if read_source(path, corpus_dir).sha256 != built[path.name]:
                    differs.append(path.name)
            except UnreadableFile:
                differs.append(path.name)
        elif path.name not in skipped:
            differs.append(path.name)
    names = {p.name for p in present}
    differs += [name for name in built if name not in names]
    if corpus.get("metadata_sha256") != sidecar_sha256(corpus_dir):
        differs.append(SIDECAR)
    if differs:
        raise IndexUnusable(
            f"index at {index.directory} was built from other files than {corpus_dir} now holds "
            f"(differs in: {', '.join(sorted(differs))}); "
            f"rebuild it with: jbqa build --corpus {corpus_dir} --index {index.directory}"
        )
