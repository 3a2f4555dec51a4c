"""jbqa replaces a path only when it is missing, an empty folder or a jbqa index: anything else is
refused with one line naming it, and nothing there is moved or deleted."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from jbqa.cli import main
from jbqa.config import BUNDLED_CORPUS
from jbqa.index.store import (
    BUILD_MARKER,
    IndexPathRefused,
    LoadedIndex,
    _backup_path,
    _remove_stale_temp_dirs,
    _temp_prefix,
    build_index,
    check_index_target,
)

USER_TEXT = "我的论文，不是索引。\n"


def _user_folder(tmp: Path) -> tuple[Path, Path]:
    folder = tmp / "mydocs"
    folder.mkdir()
    (folder / "thesis.txt").write_text(USER_TEXT, encoding="utf-8")
    return folder, folder / "thesis.txt"


def _user_file(tmp: Path) -> tuple[Path, Path]:
    path = tmp / "notes.txt"
    path.write_text(USER_TEXT, encoding="utf-8")
    return path, path


def _link_to_folder(tmp: Path) -> tuple[Path, Path]:
    folder, kept = _user_folder(tmp)
    link = tmp / "link"
    link.symlink_to(folder, target_is_directory=True)
    return link, kept


def _corpus_itself(tmp: Path) -> tuple[Path, Path]:
    corpus = tmp / "corpus"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    return corpus, next(corpus.iterdir())


def _inside_corpus(tmp: Path) -> tuple[Path, Path]:
    corpus, kept = _corpus_itself(tmp)
    return corpus / "index", kept


CASES: dict[str, Callable[[Path], tuple[Path, Path]]] = {
    "folder with a user file": _user_folder,
    "regular file": _user_file,
    "symlink to a folder": _link_to_folder,
    "the corpus folder": _corpus_itself,
    "inside the corpus": _inside_corpus,
}


def _snapshot(root: Path) -> dict[str, bytes | str]:
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        found[rel] = f"-> {os.readlink(path)}" if path.is_symlink() else path.read_bytes() if path.is_file() else "dir"
    return found


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["build", "ask", "serve", "eval"])
def test_the_cli_refuses_what_is_not_an_index_and_loses_nothing(
    tmp_path: Path, case: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, kept = CASES[case](tmp_path)
    before = _snapshot(tmp_path)
    corpus = target.parent if case == "inside the corpus" else target if case == "the corpus folder" else BUNDLED_CORPUS
    args = {
        "build": ["build", "--corpus", str(corpus), "--index", str(target), "--embedder", "offline"],
        "ask": ["ask", "江北区有多少家金融机构", "--index", str(target)],
        "serve": ["serve", "--index", str(target), "--port", "0"],
        "eval": ["eval", "--index", str(target)],
    }[command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert str(target) in result.output and "Traceback" not in result.output
    if target.exists() or target.is_symlink():
        assert "jbqa build --index" not in result.output  # no invitation to overwrite it
    assert _snapshot(tmp_path) == before
    assert kept.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", [["build", "--embedder", "offline"], ["ask", "金融机构有多少家"], ["eval"],
                                     ["serve", "--port", "0"]])
def test_jbqa_index_pointing_at_user_data_is_refused_not_built_over(
    tmp_path: Path, case: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target, kept = CASES[case](tmp_path)
    if case in ("the corpus folder", "inside the corpus"):  # the default index's corpus is the bundled one
        corpus = target if case == "the corpus folder" else target.parent
        monkeypatch.setattr("jbqa.cli.BUNDLED_CORPUS", corpus)
        if command[0] == "build":
            command = [*command, "--corpus", str(corpus)]
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(main, command, env={"JBQA_INDEX": str(target), "JBQA_EMBEDDER": "offline"})
    assert result.exit_code != 0
    assert str(target) in result.output and "Traceback" not in result.output
    assert _snapshot(tmp_path) == before
    assert kept.read_text(encoding="utf-8")


def test_jbqa_index_inside_the_bundled_corpus_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IndexPathRefused, match="corpus"):
        check_index_target(BUNDLED_CORPUS / "index", BUNDLED_CORPUS)


def test_an_empty_folder_and_an_index_are_replaced(tmp_path: Path, offline_index: LoadedIndex) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    check_index_target(empty)
    check_index_target(offline_index.directory)
    check_index_target(tmp_path / "missing")


def test_stale_folders_are_removed_only_when_a_build_made_them(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    ours = tmp_path / f"{_temp_prefix(index_dir)}dead"
    ours.mkdir()
    (ours / BUILD_MARKER).touch()
    killed_early = tmp_path / f"{_temp_prefix(index_dir)}early"  # killed before it wrote the marker
    killed_early.mkdir()
    theirs = tmp_path / f"{_temp_prefix(index_dir)}mine"
    theirs.mkdir()
    (theirs / "keep.txt").write_text(USER_TEXT, encoding="utf-8")
    old = 1_000_000_000
    for path in (ours, killed_early, theirs):
        os.utime(path, (old, old))
    _remove_stale_temp_dirs(index_dir)
    assert not ours.exists()
    assert not killed_early.exists()
    assert (theirs / "keep.txt").read_text(encoding="utf-8") == USER_TEXT


def test_a_foreign_folder_at_the_backup_name_is_never_deleted(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, "offline")
    backup = _backup_path(index_dir)
    backup.mkdir()
    (backup / "keep.txt").write_text(USER_TEXT, encoding="utf-8")
    with pytest.raises(IndexPathRefused, match="not a jbqa index"):
        build_index(corpus, index_dir, "offline")
    assert (backup / "keep.txt").read_text(encoding="utf-8") == USER_TEXT
    assert (index_dir / "manifest.json").is_file()  # the index that was there is intact


def _small_corpus(tmp: Path) -> Path:
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("江北区位于长江与嘉陵江交汇处的北岸。全区面积约二百平方公里。\n" * 5, encoding="utf-8")
    return corpus


def test_an_empty_folder_becomes_the_index_and_later_builds_replace_it(tmp_path: Path) -> None:
    corpus, index_dir = _small_corpus(tmp_path), tmp_path / "index"
    index_dir.mkdir()
    build_index(corpus, index_dir, "offline")
    assert (index_dir / "manifest.json").is_file()
    assert not _backup_path(index_dir).exists()  # the empty folder was not set aside to block the next swap
    build_index(corpus, index_dir, "offline")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "index"]


def test_an_empty_folder_at_the_backup_name_is_removed_not_refused(tmp_path: Path) -> None:
    corpus, index_dir = _small_corpus(tmp_path), tmp_path / "index"
    build_index(corpus, index_dir, "offline")
    _backup_path(index_dir).mkdir()  # what an empty folder swapped aside leaves: no data of anyone's
    build_index(corpus, index_dir, "offline")
    assert not _backup_path(index_dir).exists()


def test_a_file_of_yours_at_the_lock_name_is_kept(tmp_path: Path) -> None:
    corpus, index_dir = _small_corpus(tmp_path), tmp_path / "index"
    lock = tmp_path / ".index.lock"
    lock.write_text(USER_TEXT, encoding="utf-8")
    build_index(corpus, index_dir, "offline")
    assert lock.read_text(encoding="utf-8") == USER_TEXT
    assert (index_dir / "manifest.json").is_file()


@pytest.mark.parametrize("case", ["folder with a user file", "regular file", "symlink to a folder"])
def test_jbqa_lexicon_pointing_at_user_data_is_refused_and_kept(tmp_path: Path, case: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    target, kept = CASES[case](home)
    before = _snapshot(home)
    args = ["build", "--corpus", str(_small_corpus(tmp_path)), "--index", str(tmp_path / "index"), "--embedder", "offline"]
    result = CliRunner().invoke(main, args, env={"JBQA_LEXICON": str(target)})
    # The reader needs the lexicon: the build stops at once, with one line, before it writes anything.
    assert result.exit_code == 1, result.output
    assert f"Error: refusing to write the word lexicon at {target}" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "index").exists()
    assert _snapshot(home) == before
    assert kept.read_text(encoding="utf-8") == USER_TEXT
