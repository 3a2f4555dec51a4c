"""SQuAD-format data as an open-retrieval test: one document per context, every question asked of
the whole corpus; with `holdout_every`, every K-th context is left out so that its questions must be
refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from jbqa.eval.metrics import GoldItem
from jbqa.eval.squad import SquadContext, load_squad
from jbqa.index.store import FORMAT_VERSION, build_index, is_jbqa_index


@dataclass(frozen=True)
class OpenSquad:
    corpus: Path
    index: Path
    items: list[GoldItem]
    documents: int
    left_out: int


def document_name(number: int) -> str:
    return f"{number:05d}.txt"


def write_corpus(contexts: list[SquadContext], folder: Path) -> list[str]:
    """One UTF-8 document per context, its title as the first line, then a blank line (so that
    ingest keeps the title a heading, not the start of the first sentence); their file names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for number, context in enumerate(contexts):
        name = document_name(number)
        (folder / name).write_text(f"{context.title}\n\n{context.context}\n", encoding="utf-8")
        names.append(name)
    return names


LAYOUT_VERSION = 2  # 2: a blank line after the title


def _cache_key(files: list[Path], holdout_every: int, limit: int | None, embedder: str) -> str:
    digest = hashlib.sha256(f"{FORMAT_VERSION}:{LAYOUT_VERSION}:{holdout_every}:{limit}:{embedder}".encode())
    for path in files:
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def prepare(
    squad_file: Path, cache: Path, holdout_every: int = 0, limit: int | None = None,
    distractors: tuple[Path, ...] = (), progress: bool = False, embedder: str = "auto",
) -> OpenSquad:
    """Write the corpus and build its index under `cache` (reused while the inputs are the same)."""
    contexts = load_squad(squad_file)
    extra = [c for path in distractors for c in load_squad(path)]
    kept = [c for i, c in enumerate(contexts) if not (holdout_every and i % holdout_every == holdout_every - 1)]
    folder = cache / _cache_key([squad_file, *distractors], holdout_every, limit, embedder)
    names = dict(zip((id(c) for c in kept + extra), write_corpus(kept + extra, folder / "corpus"), strict=True))
    items = []
    for context in contexts:
        source = names.get(id(context))
        for q in context.questions:
            answers = [a.text for a in q.answers] if source else []
            items.append(GoldItem(q.id, q.question, answers, [source] if source else []))
    if limit is not None:
        items = items[:limit]
    index = folder / "index"
    if not is_jbqa_index(index) or _stale(index, folder / "corpus"):
        build_index(folder / "corpus", index, embedder, progress=progress)
    return OpenSquad(folder / "corpus", index, items, len(kept) + len(extra), len(contexts) - len(kept))


def _stale(index: Path, corpus: Path) -> bool:
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    return len(manifest["corpus"]["files"]) != sum(1 for _ in corpus.iterdir())
