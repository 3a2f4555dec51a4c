"""Shared fixtures: indexes of the bundled corpus (offline and default embedder), built once per test session."""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import uvicorn

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
def e5_index(tmp_path_factory: pytest.TempPathFactory, _session_models_dir: Path, _session_lexicon_dir: Path
             ) -> LoadedIndex:
    """The bundled corpus indexed as jbqa indexes it by default, with multilingual-e5-small (built once)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JBQA_MODELS", str(_session_models_dir))
        env.setenv("JBQA_LEXICON", str(_session_lexicon_dir))
        return build_index(BUNDLED_CORPUS, tmp_path_factory.mktemp("e5-index") / "index", "auto")


@pytest.fixture(scope="session")
def answerer(e5_index: LoadedIndex) -> Answerer:
    """The light reader over the default index: what `jbqa ask --reader light` answers with."""
    return Answerer(e5_index)


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


@pytest.fixture(scope="session")
def _session_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the packaged model is converted during the tests (once per session)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _session_lexicon_dir: Path, _session_models_dir: Path
) -> None:
    """Never touch the user's default index, lexicon, model or training cache; never reach for a model hub."""
    monkeypatch.setenv("JBQA_INDEX", str(tmp_path / "default-index"))
    monkeypatch.setenv("JBQA_TRAINING_CACHE", str(tmp_path / "training-cache"))
    monkeypatch.setenv("JBQA_LEXICON", str(_session_lexicon_dir))
    monkeypatch.setenv("JBQA_MODELS", str(_session_models_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # The light reader unless a test asks for another: the default, the trained neural reader, takes
    # seconds and a GiB to load in each process; the tests of the default reader unset this.
    monkeypatch.setenv("JBQA_READER", "light")


@contextmanager
def _in_thread(config: uvicorn.Config) -> Iterator[int]:
    """Run uvicorn with `config` in a thread on a free loopback port; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="session")
def serve_in_thread() -> Callable[[uvicorn.Config], AbstractContextManager[int]]:
    """A real uvicorn server in a thread for the block: `with serve_in_thread(config) as port:`."""
    return _in_thread
