"""The event loop the server runs on: uvloop's where it is installed (a dependency on Linux and macOS)
and wanted, asyncio's own otherwise. uvloop does the selector and transport work in C; the server's
CPU per event on the live bench is what it saves (see README, Benchmarks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory(use_uvloop: bool = True) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor when wanted and importable, else None (asyncio's default loop)."""
    if not use_uvloop:
        return None
    try:
        import uvloop
    except ImportError:  # not installed (e.g. Windows): asyncio's loop does the same job, slower
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], use_uvloop: bool = True) -> T:
    """`asyncio.run(main)` on the loop `loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory(use_uvloop)) as runner:
        return runner.run(main)


def loop_name() -> str:
    """"uvloop" or "asyncio": which loop runs the calling coroutine."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
