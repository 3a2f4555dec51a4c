"""Files replaced whole: the new content, or the old file untouched and nothing left beside it."""

from pathlib import Path

import pytest

from jbqa.files import replacing, write_bytes, write_text


def test_the_new_content_replaces_the_old_and_nothing_is_left_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_text("old", encoding="utf-8")
    write_text(path, "新的\n")
    assert path.read_text(encoding="utf-8") == "新的\n"
    write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_write_that_fails_leaves_the_old_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "model.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half of the new", encoding="utf-8")
        raise RuntimeError("interrupted")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.txt"]


def test_a_failed_first_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "new.txt"
    with pytest.raises(OSError), replacing(path) as tmp:
        tmp.write_text("part", encoding="utf-8")
        raise OSError("disk full")
    assert not list(tmp_path.iterdir())


def test_a_block_that_writes_nothing_is_an_error_and_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "kept.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(FileNotFoundError), replacing(path):
        pass
    assert path.read_text(encoding="utf-8") == "old"
