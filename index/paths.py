"""What stands at a path jbqa would write: it replaces only what it made itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def foreign_content(path: Path, is_ours: Callable[[Path], bool], kind: str) -> str | None:
    """None when jbqa may write a `kind` (an index, a lexicon) at `path`: nothing is there, an
    empty folder, or a folder that `is_ours`; otherwise what is there, for a refusal."""
    if path.is_symlink():
        return "a symbolic link"
    if not path.exists():
        return None
    if not path.is_dir():
        return f"a file that is not a jbqa {kind}"
    try:
        entries = sum(1 for _ in path.iterdir())
    except OSError as exc:
        return f"a folder that cannot be read ({exc.strerror})"
    if entries == 0 or is_ours(path):
        return None
    return f"a folder of {entries} entries that is not a jbqa {kind}"
