"""Progress of long work: a bar on a terminal, one line per stage in a log, nothing when off."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(
    items: Iterable[T], desc: str, unit: str, enabled: bool = True, total: int | None = None
) -> Iterator[T]:
    """Iterate `items`, showing a tqdm bar when stderr is a terminal; when it is not (a log file),
    one line as the stage starts and one as it ends, never thousands of bar updates."""
    if not enabled:
        yield from items
        return
    if sys.stderr.isatty():
        yield from tqdm(items, desc=desc, unit=unit, total=total, leave=False)
        return
    size = total if total is not None else len(items) if isinstance(items, Sized) else None
    print(f"{desc}: {size if size is not None else '?'} {unit} ...", file=sys.stderr, flush=True)
    count = 0
    for item in items:
        count += 1
        yield item
    print(f"{desc}: done, {count} {unit}", file=sys.stderr, flush=True)
