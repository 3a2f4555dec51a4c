"""Shared fixtures: one offline index of the bundled corpus per test session."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from jbqa.answerer import Answerer
from jbqa.config import BUNDLED_CORPUS
from jbqa.index.store import LoadedIndex, build_index

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "eval" / "gold.jsonl"


@pytest.fixture(scope="session")
def offline_index(tmp_path_factory: pytest.TempPathFactory) -> LoadedIndex:
    """The bundled corpus indexed with the offline embedder (built once, read-only for tests)."""
    return build_index(BUNDLED_CORPUS, tmp_path_factory.mktemp("index") / "index", "offline")


@pytest.fixture(scope="session")
def answerer(offline_index: LoadedIndex) -> Answerer:
    return Answerer(offline_index)


@pytest.fixture(scope="session")
def jbqa() -> str:
    """Path of the `jbqa` console script of this environment."""
    found = shutil.which("jbqa", path=str(Path(sys.executable).parent)) or shutil.which("jbqa")
    if not found:
        pytest.fail("the jbqa console script is not installed (pip install -e .)")
    return found


@pytest.fixture(scope="session")
def _session_lexicon_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where builds extract the word lexicon during the tests (once per session)."""
    return tmp_path_factory.mktemp("lexicon") / "lexicon"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _session_lexicon_dir: Path) -> None:
    """Never touch the user's default index or lexicon; never reach for a model hub."""
    monkeypatch.setenv("JBQA_INDEX", str(tmp_path / "default-index"))
    monkeypatch.setenv("JBQA_LEXICON", str(_session_lexicon_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
