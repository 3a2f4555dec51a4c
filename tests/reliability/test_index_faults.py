"""The index folder under faults: killed builds, a swap cut between its renames, damaged files.

A build writes a temporary folder `.<name>.tmp-*` beside the index and swaps it in with two
renames (index -> `.<name>.previous`, temporary -> index). Whatever happens to a build, the
previous index stays loadable; a damaged index is refused with a message saying how to rebuild.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import jbqa.index.store
from jbqa.answerer import Answerer
from jbqa.config import BUNDLED_CORPUS
from jbqa.index.store import (
    BUILD_MARKER,
    FORMAT_VERSION,
    IndexUnusable,
    LoadedIndex,
    build_index,
    file_checksums,
    index_exists,
    is_jbqa_index,
    load_index,
)

QUESTION = "江北区金融机构有多少家"
BUILD_SECONDS = 180
KILL_DEADLINE_SECONDS = 120
POLL_SECONDS = 0.002
HOUR = 3600


def child_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1"}


def temp_folders(index_dir: Path) -> list[Path]:
    prefix = f".{index_dir.name}.tmp-"
    return sorted(p for p in index_dir.parent.iterdir() if p.name.startswith(prefix))


def backup_of(index_dir: Path) -> Path:
    return index_dir.parent / f".{index_dir.name}.previous"


def assert_answers(loaded: LoadedIndex) -> None:
    result = Answerer(loaded).ask(QUESTION)
    assert not result.abstained
    assert any(figure in result.answers[0].quote for figure in ("480", "490"))


def cli_build(jbqa: str, corpus: Path, index_dir: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [jbqa, "build", "--corpus", str(corpus), "--index", str(index_dir), "--embedder", "offline"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=BUILD_SECONDS,
    )
    assert done.returncode == 0, done.stderr
    return done


def write_big_corpus(folder: Path, files: int = 40, sentences: int = 1000) -> Path:
    """A generated corpus of many short sentences: a build of a few seconds whose writing phase
    (one JSON record per passage, each with its many sentences) lasts long enough to be caught."""
    folder.mkdir(parents=True)
    heads = "江观金港寸鱼郭铁大五石华"
    for f in range(files):
        units = [f"{heads[(f + i) % len(heads)]}{i}。" for i in range(sentences)]
        lines = ["".join(units[j : j + 20]) for j in range(0, sentences, 20)]
        (folder / f"big_{f:03d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def wait_for_temp_folder(index_dir: Path, proc: subprocess.Popen[bytes]) -> Path | None:
    """Poll (bounded) until the build's temp folder appears; None if the build ended first."""
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    prefix = f".{index_dir.name}.tmp-"
    while time.monotonic() < deadline and proc.poll() is None:
        with os.scandir(index_dir.parent) as entries:
            for entry in entries:
                if entry.name.startswith(prefix):
                    return Path(entry.path)
        time.sleep(POLL_SECONDS)
    return None


# --- a build killed with SIGKILL -------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_build_leaves_the_previous_index_and_the_next_build_removes_its_leftovers(
    tmp_path: Path, jbqa: str
) -> None:
    index_dir = tmp_path / "indexes" / "index"
    first = cli_build(jbqa, BUNDLED_CORPUS, index_dir)
    previous = load_index(index_dir)
    count = len(previous.passages)
    assert f"Indexed {count} passages" in first.stdout

    big = write_big_corpus(tmp_path / "big")
    log = tmp_path / "killed-build.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [jbqa, "build", "--corpus", str(big), "--index", str(index_dir), "--embedder", "offline"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(),
        )
    try:
        seen = wait_for_temp_folder(index_dir, proc)
        if seen is not None:
            os.kill(proc.pid, signal.SIGKILL)
        returncode = proc.wait(timeout=BUILD_SECONDS)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert seen is not None, f"the build ended ({returncode}) before it was caught writing:\n{log.read_text()}"
    assert returncode == -signal.SIGKILL, log.read_text()

    # The previous index is untouched: same manifest, same passages, still answers.
    survivor = load_index(index_dir)
    assert len(survivor.passages) == count
    assert survivor.manifest == previous.manifest
    assert survivor.passages == previous.passages
    assert_answers(survivor)
    assert not backup_of(index_dir).exists()

    # SIGKILL runs no cleanup: the killed build's temp folder is left behind, half written.
    assert temp_folders(index_dir) == [seen]
    assert not (seen / "manifest.json").exists()

    # The next build removes it (it is unlocked and older than that build's process).
    cli_build(jbqa, BUNDLED_CORPUS, index_dir)
    assert temp_folders(index_dir) == []
    assert sorted(p.name for p in index_dir.parent.iterdir()) == ["index"]
    assert len(load_index(index_dir).passages) == count


# --- stale temp folders ----------------------------------------------------------------------


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(BUNDLED_CORPUS / "000_623d10d81843cc6a.txt", folder)
    return folder


def make_temp_folder(parent: Path, name: str, age_seconds: float) -> Path:
    folder = parent / name
    (folder / "bm25").mkdir(parents=True)
    (folder / "passages.jsonl").write_text('{"half": ', encoding="utf-8")
    (folder / BUILD_MARKER).touch()  # what every build writes first into its temporary folder
    stamp = time.time() - age_seconds
    os.utime(folder, (stamp, stamp))
    return folder


@pytest.fixture
def held_lock() -> Iterator[Callable[[Path], None]]:
    """Lock a folder the way a running build locks its temp folder, until the test ends."""
    fcntl = pytest.importorskip("fcntl")
    fds: list[int] = []

    def hold(folder: Path) -> None:
        fd = os.open(folder, os.O_RDONLY)
        fds.append(fd)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    yield hold
    for fd in fds:
        os.close(fd)


def test_a_build_removes_stale_temp_folders_of_its_index_only(small_corpus: Path, tmp_path: Path) -> None:
    parent = tmp_path / "indexes"
    parent.mkdir()
    stale = [make_temp_folder(parent, f".index.tmp-dead{i}", HOUR) for i in range(2)]
    other_index = make_temp_folder(parent, ".other.tmp-dead", HOUR)
    lookalike = make_temp_folder(parent, ".index2.tmp-dead", HOUR)
    build_index(small_corpus, parent / "index", "offline")
    assert not any(p.exists() for p in stale)
    assert other_index.exists() and lookalike.exists()
    assert_answers(load_index(parent / "index"))


def test_a_temp_folder_locked_by_a_running_build_is_kept(
    small_corpus: Path, tmp_path: Path, held_lock: Callable[[Path], None]
) -> None:
    parent = tmp_path / "indexes"
    parent.mkdir()
    running = make_temp_folder(parent, ".index.tmp-running", HOUR)
    held_lock(running)
    build_index(small_corpus, parent / "index", "offline")
    assert running.exists() and (running / "passages.jsonl").exists()


def test_a_temp_folder_newer_than_this_process_is_kept(small_corpus: Path, tmp_path: Path) -> None:
    """It may belong to a build that started after this one and has not locked its folder yet."""
    parent = tmp_path / "indexes"
    parent.mkdir()
    young = make_temp_folder(parent, ".index.tmp-young", 0)
    build_index(small_corpus, parent / "index", "offline")
    assert young.exists()


def test_a_running_build_holds_a_lock_on_its_temp_folder(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fcntl = pytest.importorskip("fcntl")
    index_dir = tmp_path / "indexes" / "index"
    observed: list[bool] = []
    real_save = jbqa.index.store.BM25Index.save

    def save_and_probe(self: Any, directory: Path) -> None:
        real_save(self, directory)
        fd = os.open(directory.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            observed.append(False)
        except BlockingIOError:
            observed.append(True)
        finally:
            os.close(fd)

    monkeypatch.setattr(jbqa.index.store.BM25Index, "save", save_and_probe)
    build_index(small_corpus, index_dir, "offline")
    assert observed == [True]
    assert temp_folders(index_dir) == []


# --- a swap cut between its two renames ------------------------------------------------------


class SimulatedCrash(BaseException):
    """The process dies: not an Exception, so no `except Exception` handler gets in the way."""


def crash_at_second_rename(monkeypatch: pytest.MonkeyPatch, index_dir: Path) -> list[tuple[str, str]]:
    """Let `index -> .previous` happen, then die on `temp -> index` (other renames pass through)."""
    real_replace = os.replace
    renames: list[tuple[str, str]] = []
    index_dir = index_dir.resolve()

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst) == index_dir and Path(src).name.startswith(f".{index_dir.name}.tmp-"):
            renames.append((Path(src).name, Path(dst).name))
            raise SimulatedCrash
        if Path(dst) == backup_of(index_dir):
            renames.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(jbqa.index.store.os, "replace", replace)
    return renames


@pytest.fixture
def built(small_corpus: Path, tmp_path: Path) -> LoadedIndex:
    return build_index(small_corpus, tmp_path / "indexes" / "index", "offline")


def test_a_crash_between_the_renames_is_recovered_by_load_index(
    built: LoadedIndex, small_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = built.directory
    (small_corpus / "extra.txt").write_text("江北区有一座新的图书馆。\n", encoding="utf-8")
    renames = crash_at_second_rename(monkeypatch, index_dir)
    with pytest.raises(SimulatedCrash):
        build_index(small_corpus, index_dir, "offline")
    monkeypatch.undo()
    assert renames == [("index", ".index.previous"), (renames[1][0], "index")]
    assert not index_dir.exists() and backup_of(index_dir).is_dir()

    assert index_exists(index_dir)
    recovered = load_index(index_dir)
    assert recovered.passages == built.passages
    assert recovered.manifest == built.manifest
    assert_answers(recovered)
    assert not backup_of(index_dir).exists()


def test_a_build_after_a_cut_swap_keeps_the_previous_index_until_its_own_swap(
    built: LoadedIndex, small_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No load in between: the next build must not delete `.previous`, the only copy, before its swap."""
    index_dir = built.directory
    crash_at_second_rename(monkeypatch, index_dir)
    with pytest.raises(SimulatedCrash):
        build_index(small_corpus, index_dir, "offline")
    assert not index_dir.exists()
    with pytest.raises(SimulatedCrash):  # the next build dies the same way
        build_index(small_corpus, index_dir, "offline")
    monkeypatch.undo()
    recovered = load_index(index_dir)
    assert recovered.passages == built.passages
    assert_answers(recovered)


def test_a_completed_build_after_a_cut_swap_replaces_the_index_and_cleans_up(
    built: LoadedIndex, small_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = built.directory
    crash_at_second_rename(monkeypatch, index_dir)
    with pytest.raises(SimulatedCrash):
        build_index(small_corpus, index_dir, "offline")
    monkeypatch.undo()
    shutil.copy(BUNDLED_CORPUS / "001_eb47fa1761d187f3.txt", small_corpus)
    new = build_index(small_corpus, index_dir, "offline")
    assert len(new.passages) > len(built.passages)
    assert load_index(index_dir).passages == new.passages
    assert sorted(p.name for p in index_dir.parent.iterdir()) == ["index"]


def test_a_crash_after_both_renames_keeps_the_new_index(built: LoadedIndex, small_corpus: Path) -> None:
    """Cut before the backup is deleted: both folders exist; the index folder is the newer one."""
    index_dir = built.directory
    shutil.copytree(index_dir, backup_of(index_dir))
    manifest = json.loads((backup_of(index_dir) / "manifest.json").read_text(encoding="utf-8"))
    manifest["built_at"] = "2000-01-01T00:00:00Z"
    (backup_of(index_dir) / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert load_index(index_dir).manifest == built.manifest
    build_index(small_corpus, index_dir, "offline")
    assert sorted(p.name for p in index_dir.parent.iterdir()) == ["index"]


# --- damaged indexes -------------------------------------------------------------------------


def edit_manifest(change: Callable[[dict[str, object]], object]) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        path = directory / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        change(manifest)
        path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")

    return damage


def overwrite(part: str, data: bytes) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        (directory / part).write_bytes(data)

    return damage


def truncate(part: str, keep: float) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        data = (directory / part).read_bytes()
        (directory / part).write_bytes(data[: int(len(data) * keep)])

    return damage


def remove(part: str) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        target = directory / part
        shutil.rmtree(target) if target.is_dir() else target.unlink()

    return damage


def invalid_json_line(directory: Path) -> None:
    path = directory / "passages.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[len(lines) // 2] = '{"id": "x", "text": \n'
    path.write_text("".join(lines), encoding="utf-8")


def wrong_record_shape(directory: Path) -> None:
    path = directory / "passages.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = json.dumps({"id": "x", "unexpected": 1}) + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def truncated_source(directory: Path) -> None:
    path = next((directory / "sources").iterdir())
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")  # cut at a character boundary


def flip_byte(part: str) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        data = bytearray((directory / part).read_bytes())
        data[len(data) * 2 // 3] ^= 0x5A  # inside the array data, past any header
        (directory / part).write_bytes(bytes(data))

    return damage


def random_bytes_in(part: str) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        data = bytearray((directory / part).read_bytes())
        middle = len(data) // 2
        data[middle : middle + 64] = bytes((i * 97 + 13) % 256 for i in range(64))
        (directory / part).write_bytes(bytes(data))

    return damage


def edited_figure(part: str) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        path = next((directory / part).iterdir()) if (directory / part).is_dir() else directory / part
        text = path.read_text(encoding="utf-8")
        assert "480" in text or part == "sources"
        path.write_text(text.replace("480", "999") if "480" in text else text.replace("。", "，", 1), encoding="utf-8")

    return damage


def add_one(field: str) -> Callable[[dict[str, object]], None]:
    def change(manifest: dict[str, object]) -> None:
        manifest[field] = int(manifest[field]) + 1  # type: ignore[call-overload]

    return change


GARBAGE = bytes((i * 131 + 17) % 256 for i in range(4096))
DAMAGE: dict[str, Callable[[Path], None]] = {
    "a flipped byte in faiss.index": flip_byte("faiss.index"),
    "a flipped byte in embedder/components.npy": flip_byte("embedder/components.npy"),
    "a flipped byte in a BM25 array": flip_byte("bm25/data.csc.index.npy"),
    "64 random bytes in a BM25 array": random_bytes_in("bm25/indices.csc.index.npy"),
    "480 edited to 999 in passages.jsonl": edited_figure("passages.jsonl"),
    "an edited source text": edited_figure("sources"),
    "a file the build did not write": lambda d: (d / "bm25" / "extra.npy").write_bytes(b"\x93NUMPY"),
    "garbage faiss.index": overwrite("faiss.index", GARBAGE),
    "truncated faiss.index": truncate("faiss.index", 0.5),
    "empty faiss.index": overwrite("faiss.index", b""),
    "truncated passages.jsonl": truncate("passages.jsonl", 0.5),
    "invalid JSON line in passages.jsonl": invalid_json_line,
    "passages.jsonl record of another shape": wrong_record_shape,
    "passages.jsonl not UTF-8": overwrite("passages.jsonl", b"\xff\xfe\x00garbage\n"),
    "manifest with a wrong passage_count": edit_manifest(add_one("passage_count")),
    "manifest from another format version": edit_manifest(lambda m: m.update(format_version=FORMAT_VERSION + 1)),
    "manifest without a format version": edit_manifest(lambda m: m.pop("format_version")),
    "manifest truncated": truncate("manifest.json", 0.5),
    "manifest missing": remove("manifest.json"),
    "bm25 folder missing": remove("bm25"),
    "garbage bm25 vocabulary": overwrite("bm25/vocab.index.json", GARBAGE),
    "embedder folder missing": remove("embedder"),
    "sources folder missing": remove("sources"),
    "a source text cut short": truncated_source,
}


@pytest.fixture
def index_copy(offline_index: LoadedIndex, tmp_path: Path) -> Path:
    target = tmp_path / "bad-index"
    shutil.copytree(offline_index.directory, target)
    return target


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_index_is_refused_with_how_to_rebuild(index_copy: Path, damage: Callable[[Path], None]) -> None:
    load_index(index_copy)  # sound before the damage
    damage(index_copy)
    with pytest.raises(IndexUnusable) as info:
        load_index(index_copy)
    message = str(info.value)
    assert "jbqa build" in message and str(index_copy.resolve()) in message
    assert "\n" not in message


def test_structural_checks_catch_what_checksums_cannot(index_copy: Path) -> None:
    """Damage that comes with matching checksums (rewritten by hand, or a bug in a build) is still refused."""
    random_bytes_in("bm25/indices.csc.index.npy")(index_copy)
    manifest = json.loads((index_copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["checksums"] = file_checksums(index_copy)
    (index_copy / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(IndexUnusable, match="BM25"):
        load_index(index_copy)


def test_another_format_version_is_named(index_copy: Path) -> None:
    DAMAGE["manifest from another format version"](index_copy)
    with pytest.raises(IndexUnusable, match=f"format version {FORMAT_VERSION + 1}, this jbqa reads {FORMAT_VERSION}"):
        load_index(index_copy)


def test_a_wrong_passage_count_is_named(index_copy: Path, offline_index: LoadedIndex) -> None:
    DAMAGE["manifest with a wrong passage_count"](index_copy)
    with pytest.raises(IndexUnusable, match="inconsistent") as info:
        load_index(index_copy)
    assert f"'manifest': {len(offline_index.passages) + 1}" in str(info.value)


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_cli_ask_on_a_damaged_index_prints_one_line_and_exits_non_zero(
    index_copy: Path, damage: Callable[[Path], None], jbqa: str
) -> None:
    damage(index_copy)
    done = subprocess.run(
        [jbqa, "ask", QUESTION, "--index", str(index_copy)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ") and "jbqa build" in lines[0]
    assert "Traceback" not in done.stderr


# --- concurrent builds and readers -----------------------------------------------------------


def test_a_second_build_of_the_same_index_is_refused_while_one_runs(small_corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with jbqa.index.store.build_lock(index_dir) as held:  # what a running build holds
        assert held
        with pytest.raises(jbqa.index.store.BuildRunning, match="another build of .* is running"):
            build_index(small_corpus, index_dir, "offline")
    build_index(small_corpus, index_dir, "offline")  # free again
    assert not (tmp_path / ".index.lock").exists()  # a build leaves no lock file behind


def test_a_reader_between_the_two_renames_waits_and_the_build_succeeds(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    build_index(small_corpus, index_dir, "offline")
    real_replace = os.replace
    loaded: list[object] = []

    def replace_with_a_reader_in_between(src: object, dst: object) -> None:
        real_replace(src, dst)  # type: ignore[arg-type]
        if Path(str(dst)).name == ".index.previous":  # index set aside, the new one not yet in place
            reader = threading.Thread(target=lambda: loaded.append(load_index(index_dir)))
            reader.start()
            reader.join(0.3)  # the reader is now waiting for the build's lock
            loaded.append(reader)

    monkeypatch.setattr(jbqa.index.store.os, "replace", replace_with_a_reader_in_between)
    built = build_index(small_corpus, index_dir, "offline")
    thread = loaded[0]
    assert isinstance(thread, threading.Thread)
    thread.join(30)
    assert isinstance(loaded[1], LoadedIndex)
    assert loaded[1].manifest["built_at"] == built.manifest["built_at"]  # it read the new index


def test_a_backup_that_cannot_be_deleted_never_blocks_later_builds(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    build_index(small_corpus, index_dir, "offline")
    # As a read-only folder inside it would for a user who is not root: rmtree leaves the backup.
    monkeypatch.setattr(jbqa.index.store.shutil, "rmtree", lambda path, ignore_errors=False: None)
    build_index(small_corpus, index_dir, "offline")
    monkeypatch.undo()
    build_index(small_corpus, index_dir, "offline")  # not blocked by the leftover
    assert not (tmp_path / ".index.previous").exists()
    assert [p.name for p in tmp_path.iterdir() if "stuck" in p.name]  # set aside, not in the way
    assert_answers(load_index(index_dir))


# --- folders this process may not write, with file permissions enforced ----------------------


def without_override(command: list[str]) -> list[str]:
    """`command` as a process that file permissions apply to: for root, setpriv drops the
    capabilities that bypass them (root's own files are then read-only where their mode says so)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]


def cli_build_unprivileged(jbqa: str, corpus: Path, index_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        without_override([jbqa, "build", "--corpus", str(corpus), "--index", str(index_dir), "--embedder", "offline"]),
        capture_output=True, text=True, env=child_env(), timeout=BUILD_SECONDS,
    )


@pytest.mark.slow
def test_a_build_into_a_folder_it_may_not_write_is_one_line_and_keeps_the_index(
    jbqa: str, small_corpus: Path, tmp_path: Path
) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    index_dir = parent / "index"
    built = build_index(small_corpus, index_dir, "offline")
    before = sorted(p.name for p in parent.iterdir())
    parent.chmod(0o555)
    try:
        done = cli_build_unprivileged(jbqa, small_corpus, index_dir)
    finally:
        parent.chmod(0o755)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "cannot write the index" in errors[0] and "Permission denied" in errors[0], done.stderr
    assert sorted(p.name for p in parent.iterdir()) == before
    assert load_index(index_dir).manifest["built_at"] == built.manifest["built_at"]


@pytest.mark.slow
def test_a_read_only_index_folder_never_blocks_later_builds(jbqa: str, small_corpus: Path, tmp_path: Path) -> None:
    """Its files cannot be deleted, so the previous index, swapped aside, is renamed out of the way."""
    index_dir = tmp_path / "index"
    build_index(small_corpus, index_dir, "offline")
    read_only = [index_dir, *(p for p in index_dir.rglob("*") if p.is_dir())]
    for folder in read_only:
        folder.chmod(0o555)
    try:
        for _ in range(2):
            done = cli_build_unprivileged(jbqa, small_corpus, index_dir)
            assert done.returncode == 0, done.stderr
            assert_answers(load_index(index_dir))
        assert not backup_of(index_dir).exists()
        stuck = [p for p in tmp_path.iterdir() if "stuck" in p.name]
        assert len(stuck) == 1 and is_jbqa_index(stuck[0])  # the first index, renamed aside once
    finally:
        for folder in tmp_path.rglob("*"):
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)


def _cli_build_fails_at_once(jbqa: str, index_dir: Path, small_corpus: Path, env: dict[str, str]) -> str:
    started = time.monotonic()
    done = subprocess.run(
        [jbqa, "build", "--corpus", str(small_corpus), "--index", str(index_dir), "--embedder", "offline"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert time.monotonic() - started < 30  # generous: the process start and imports; it used to spin for ever
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[-1]


def test_a_lock_file_that_is_a_dangling_link_fails_the_build_in_one_line(
    small_corpus: Path, tmp_path: Path, jbqa: str
) -> None:
    (tmp_path / ".myidx.lock").symlink_to(tmp_path / "nonexistent")
    line = _cli_build_fails_at_once(jbqa, tmp_path / "myidx", small_corpus, child_env())
    assert str(tmp_path / ".myidx.lock") in line and "link" in line
    assert not (tmp_path / "myidx").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_an_index_in_a_folder_where_no_file_can_be_made_fails_in_one_line(
    small_corpus: Path, jbqa: str
) -> None:
    line = _cli_build_fails_at_once(jbqa, Path("/proc/jbqa_x"), small_corpus, child_env())
    assert "/proc/.jbqa_x.lock" in line
