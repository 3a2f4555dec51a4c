"""Defaults, each overridable by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_CORPUS = Path(__file__).with_name("corpus")


def default_index_dir() -> Path:
    """JBQA_INDEX, else ~/.cache/jbqa/index (XDG_CACHE_HOME respected)."""
    if os.environ.get("JBQA_INDEX"):
        return Path(os.environ["JBQA_INDEX"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "jbqa" / "index"


def default_embedder() -> str:
    """JBQA_EMBEDDER, else "auto": the default multilingual model, or the offline embedder if it cannot load."""
    return os.environ.get("JBQA_EMBEDDER", "auto")


def default_train_data() -> Path | None:
    """JBQA_TRAIN_DATA, else `../shared/data/mrc` beside a source checkout when it is there."""
    if os.environ.get("JBQA_TRAIN_DATA"):
        return Path(os.environ["JBQA_TRAIN_DATA"]).expanduser()
    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mrc"
    return shared if shared.is_dir() else None


def training_cache_dir() -> Path:
    """JBQA_TRAINING_CACHE, else ~/.cache/jbqa/training (XDG_CACHE_HOME respected): training
    questions scored out of fold, kept for refits."""
    if os.environ.get("JBQA_TRAINING_CACHE"):
        return Path(os.environ["JBQA_TRAINING_CACHE"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "jbqa" / "training"
