"""Progress on long work (replay or report of a directory, eval, bench): a bar on stderr when stderr is a
terminal, nothing at all when it is piped or redirected, so output files and logs stay clean.

    for path in progress(paths, desc="replay", unit="file"):
        ...
    with progress_bar(total=len(calls), desc="bench", unit="call") as bar:
        bar.update(1)

tqdm draws it (one small dependency, stderr by default, off when not a terminal).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sized
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def shown() -> bool:
    """Whether progress is drawn: stderr is a terminal."""
    return sys.stderr.isatty()


def progress_bar(*, total: int | None, desc: str, unit: str = "it") -> tqdm[Any]:
    """A bar to `update(n)` by hand (a no-op object when stderr is not a terminal); use it as a context
    manager so it is cleared at the end."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not shown(), leave=False,
                dynamic_ncols=True)


def progress(items: Iterable[T], *, desc: str, unit: str = "it", total: int | None = None) -> Iterator[T]:
    """Iterate `items`, drawing a bar on stderr when it is a terminal. `total` defaults to len(items)."""
    if not shown():
        yield from items
        return
    if total is None and isinstance(items, Sized):
        total = len(items)
    with progress_bar(total=total, desc=desc, unit=unit) as bar:
        for item in items:
            yield item
            bar.update(1)
