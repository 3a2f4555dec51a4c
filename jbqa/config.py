"""Defaults, each overridable by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_CORPUS = Path(__file__).with_name("corpus")


def cache_home() -> Path:
    """~/.cache/jbqa, XDG_CACHE_HOME respected: where jbqa keeps what it computes."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jbqa"


def cache_dir(variable: str, name: str) -> Path:
    """The folder the environment variable names, else `name` in `cache_home()`."""
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser()
    return cache_home() / name


def default_index_dir() -> Path:
    """JBQA_INDEX, else ~/.cache/jbqa/index (XDG_CACHE_HOME respected)."""
    return cache_dir("JBQA_INDEX", "index")


def default_embedder() -> str:
    """JBQA_EMBEDDER, else "auto": the default multilingual model, or the offline embedder if it cannot load."""
    return os.environ.get("JBQA_EMBEDDER", "auto")


def default_reader() -> str:
    """JBQA_READER, else "neural": the trained neural reader combined with the light one (`--reader`)."""
    return os.environ.get("JBQA_READER", "neural")


def default_train_data() -> Path | None:
    """JBQA_TRAIN_DATA, else `../shared/data/mrc` beside a source checkout when it is there."""
    if os.environ.get("JBQA_TRAIN_DATA"):
        return Path(os.environ["JBQA_TRAIN_DATA"]).expanduser()
    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mrc"
    return shared if shared.is_dir() else None


def training_cache_dir() -> Path:
    """JBQA_TRAINING_CACHE, else ~/.cache/jbqa/training (XDG_CACHE_HOME respected): training
    questions scored out of fold and fold readers, kept for refits."""
    return cache_dir("JBQA_TRAINING_CACHE", "training")
