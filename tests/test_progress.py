"""Long work shows a bar on a terminal and one line per stage in a log."""

from __future__ import annotations

import pytest

from jbqa.progress import progress


def test_off_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress(range(3), "Ask", "q", enabled=False)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_a_log_gets_one_line_as_a_stage_starts_and_one_as_it_ends(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress(range(5000), "Tokenize", "passage")) == list(range(5000))
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["Tokenize: 5000 passage ...", "Tokenize: done, 5000 passage"]


def test_a_generator_of_unknown_length(capsys: pytest.CaptureFixture[str]) -> None:
    assert sum(progress((i for i in range(4)), "Ask", "q")) == 6
    assert capsys.readouterr().err.splitlines() == ["Ask: ? q ...", "Ask: done, 4 q"]
