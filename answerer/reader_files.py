"""The files of a neural reader jbqa trained, in its folder: the record (JSON: configuration, base
file, figures) and the trained weights (safetensors: the top encoder layers and the span head).

Weight matrices are stored as int8 rows, each row with its float16 scale (its largest magnitude over
127): half the bytes of float16, with the same spans on the checking windows (the model card gives
the figures). Vectors (biases, layer norms) are stored as float16. Loading gives float32.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jbqa.files import write_bytes, write_text

TRAINED_WEIGHTS = "neural-reader.safetensors"
TRAINED_RECORD = "neural-reader.json"
ROW_SCALE = ".row_scale"  # suffix of the float16 scales of an int8 matrix


def read_record(folder: Path) -> dict[str, Any]:
    """The reader's record (OSError or ValueError when it is missing or unreadable)."""
    record = json.loads((folder / TRAINED_RECORD).read_text(encoding="utf-8"))
    if not isinstance(record, dict):
        raise ValueError(f"{folder / TRAINED_RECORD} is not a JSON object")
    return record


def write_record(folder: Path, record: dict[str, Any]) -> None:
    """Replace the reader's record atomically."""
    write_text(folder / TRAINED_RECORD, json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def stored(state: dict[str, Any]) -> dict[str, Any]:
    """`state` as written: matrices as int8 rows with their float16 scales, vectors as float16."""
    import torch

    out: dict[str, Any] = {}
    for name, value in state.items():
        value = value.detach().float()
        if value.dim() != 2:
            out[name] = value.to(torch.float16).contiguous()
            continue
        scale = (value.abs().amax(dim=1, keepdim=True) / 127).clamp(min=1e-12).to(torch.float16)
        out[name] = torch.round(value / scale.float()).clamp(-127, 127).to(torch.int8).contiguous()
        out[name + ROW_SCALE] = scale.contiguous()
    return out


def loaded(state: dict[str, Any]) -> dict[str, Any]:
    """The float32 weights of a `stored` state (a state of float16 tensors alone loads as it is)."""
    return {name: value.float() * state[name + ROW_SCALE].float() if name + ROW_SCALE in state else value.float()
            for name, value in state.items() if not name.endswith(ROW_SCALE)}


def as_stored(state: dict[str, Any]) -> dict[str, Any]:
    """`state` rounded as writing and loading it rounds it."""
    return loaded(stored(state))


def save_weights(folder: Path, state: dict[str, Any]) -> None:
    """Write `state` (`stored`) into the folder atomically, readable as other files written here are
    (safetensors' own `save_file` makes it private to its owner)."""
    from safetensors.torch import save

    write_bytes(folder / TRAINED_WEIGHTS, save(stored(state), metadata={"format": "pt"}))


def load_weights(folder: Path) -> dict[str, Any]:
    """The float32 weights saved in the folder (OSError or ValueError when unreadable)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return loaded(load_file(str(folder / TRAINED_WEIGHTS)))
    except SafetensorError as exc:
        raise ValueError(str(exc)) from exc
