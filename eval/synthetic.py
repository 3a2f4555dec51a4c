"""A synthetic corpus of any size, made by recombining the sentences of a real one.

The sentences of every real passage are pooled, shuffled across documents with a seeded random
generator and laid out into files of about `passages_per_file` passages each. Passages are
planned with the same greedy rule as `ingest.split` (consecutive sentences up to `max_chars`), so
ingesting the folder gives back about `n_passages` passages. Same seed, same files.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jbqa.config import BUNDLED_CORPUS
from jbqa.ingest import ingest_corpus
from jbqa.ingest.split import DEFAULT_PASSAGE_CHARS

DEFAULT_SEED = 13
PASSAGES_PER_FILE = 50
MIN_SENTENCE_CHARS = 6  # shorter pieces are headings, bylines and stray punctuation


@dataclass(frozen=True)
class SyntheticCorpus:
    directory: Path
    files: int
    passages: int  # as planned; ingest may differ slightly where cleaning merges or drops lines
    chars: int
    pool_sentences: int
    seed: int


def corpus_sentences(corpus_dir: Path = BUNDLED_CORPUS, min_chars: int = MIN_SENTENCE_CHARS) -> list[str]:
    """The distinct clean sentences of a corpus, in corpus order."""
    seen: dict[str, None] = {}
    for passage in ingest_corpus(corpus_dir).passages:
        for sentence in passage.sentences:
            text = passage.sentence_text(sentence).strip()
            if len(text) >= min_chars:
                seen.setdefault(text, None)
    return list(seen)


def _shuffled_forever(pool: list[str], rng: random.Random) -> Iterator[str]:
    """Every sentence once per round, in a new order each round."""
    order = list(pool)
    while True:
        rng.shuffle(order)
        yield from order


def _plan_passages(sentences: Iterator[str], count: int, max_chars: int) -> list[list[str]]:
    """`count` passages of consecutive sentences, cut exactly where `ingest.split` would cut.

    The sentence that overflowed the last passage is dropped, so the passages end where a file may end.
    """
    passages: list[list[str]] = []
    group: list[str] = []
    size = 0
    while len(passages) < count:
        sentence = next(sentences)
        if group and size + len(sentence) > max_chars:
            passages.append(group)
            group, size = [], 0
        group.append(sentence)
        size += len(sentence)
    return passages


def make_synthetic_corpus(
    out_dir: Path,
    n_passages: int,
    seed: int = DEFAULT_SEED,
    passages_per_file: int = PASSAGES_PER_FILE,
    source_dir: Path = BUNDLED_CORPUS,
    max_chars: int = DEFAULT_PASSAGE_CHARS,
) -> SyntheticCorpus:
    """Write about `n_passages` passages of recombined real sentences to `out_dir` as .txt files."""
    if n_passages < 1:
        raise ValueError(f"n_passages must be at least 1, got {n_passages}")
    if passages_per_file < 1:
        raise ValueError(f"passages_per_file must be at least 1, got {passages_per_file}")
    pool = corpus_sentences(source_dir)
    if not pool:
        raise ValueError(f"no sentences of at least {MIN_SENTENCE_CHARS} characters in {source_dir}")
    rng = random.Random(seed)
    stream = _shuffled_forever(pool, rng)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_files = -(-n_passages // passages_per_file)
    width = max(5, len(str(n_files)))
    written = chars = 0
    for number in range(n_files):
        count = min(passages_per_file, n_passages - written)
        plan = _plan_passages(stream, count, max_chars)
        text = "\n\n".join("".join(group) for group in plan) + "\n"
        (out_dir / f"syn_{number:0{width}d}.txt").write_text(text, encoding="utf-8")
        written += count
        chars += len(text)
    return SyntheticCorpus(out_dir, n_files, written, chars, len(pool), seed)
