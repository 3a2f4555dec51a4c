"""Where jbqa keeps what it computes: each default overridable by an environment variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from jbqa.config import training_cache_dir


def test_the_training_cache_is_where_the_environment_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JBQA_TRAINING_CACHE", str(tmp_path / "kept"))
    assert training_cache_dir() == tmp_path / "kept"
    monkeypatch.delenv("JBQA_TRAINING_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert training_cache_dir() == tmp_path / "xdg" / "jbqa" / "training"
