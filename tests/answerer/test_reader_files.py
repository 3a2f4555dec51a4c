"""A neural reader's files: int8 rows that load back within half a step of each row's scale,
older float16 files that load as they are, and unreadable weights that fail as ValueError."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jbqa.answerer.reader_files import (
    ROW_SCALE,
    TRAINED_WEIGHTS,
    as_stored,
    load_weights,
    read_record,
    save_weights,
    stored,
    write_record,
)


def test_matrices_are_stored_as_int8_rows_and_load_within_half_a_step() -> None:
    generator = torch.Generator().manual_seed(0)
    matrix = torch.randn(8, 32, generator=generator) * torch.linspace(0.01, 3.0, 8)[:, None]  # rows of other sizes
    bias = torch.randn(8, generator=generator)
    written = stored({"w": matrix, "b": bias})
    assert written["w"].dtype == torch.int8 and written["w" + ROW_SCALE].shape == (8, 1)
    assert written["b"].dtype == torch.float16 and set(written) == {"w", "w" + ROW_SCALE, "b"}
    back = as_stored({"w": matrix, "b": bias})
    step = written["w" + ROW_SCALE].float()
    assert back["w"].dtype == torch.float32
    assert torch.all((back["w"] - matrix).abs() <= step / 2 + 1e-3 * step)  # per row, relative to its own scale
    assert torch.equal(back["b"], bias.half().float())
    assert int(written["w"].abs().max()) == 127  # each row's largest value uses the whole range


def test_saved_weights_load_back_and_older_float16_files_load_as_they_are(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    state = {"layer.weight": torch.randn(4, 6), "layer.bias": torch.randn(4)}
    save_weights(tmp_path, state)
    assert not list(tmp_path.glob("*.tmp*"))
    probe = tmp_path / "probe.txt"
    probe.write_text("")  # the weights are as readable as any file written here
    assert (tmp_path / TRAINED_WEIGHTS).stat().st_mode & 0o777 == probe.stat().st_mode & 0o777
    loaded = load_weights(tmp_path)
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], as_stored(state)[k]) for k in state)
    save_file({k: v.half() for k, v in state.items()}, str(tmp_path / TRAINED_WEIGHTS))
    assert all(torch.equal(load_weights(tmp_path)[k], state[k].half().float()) for k in state)


def test_unreadable_files_fail_as_value_errors_and_records_round_trip(tmp_path: Path) -> None:
    (tmp_path / TRAINED_WEIGHTS).write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError):
        load_weights(tmp_path)
    write_record(tmp_path, {"config": {"epochs": 1}, "note": "一"})
    assert read_record(tmp_path) == {"config": {"epochs": 1}, "note": "一"}
    (tmp_path / "neural-reader.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError):
        read_record(tmp_path)
