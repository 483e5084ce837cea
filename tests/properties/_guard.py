"""Run a test in a forked child with a time limit, so a segfault in a C extension (durable_rules,
pyahocorasick, opencc) or a hang fails that one test instead of killing or stalling the run."""

from __future__ import annotations

import functools
import multiprocessing
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import pytest


def _child(out: Connection, test: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        test(*args, **kwargs)
    except BaseException:  # everything, pytest's Failed included, goes back to the parent
        out.send(traceback.format_exc())
    else:
        out.send("")
    out.close()


def isolated(timeout: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a (hypothesis) test: run it whole in a fork; fail on crash, on hang, or with its failure."""

    def wrap(test: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> None:
            ctx = multiprocessing.get_context("fork")
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(writer, test, args, kwargs), daemon=True)
            proc.start()
            writer.close()
            if not reader.poll(timeout):
                proc.kill()
                proc.join()
                pytest.fail(f"{test.__name__} did not finish within {timeout:.0f} s: a hang", pytrace=False)
            try:
                failure: str | None = reader.recv()
            except EOFError:
                failure = None
            proc.join(10)
            if failure is None:
                code = proc.exitcode
                how = (f"signal {signal.Signals(-code).name}" if code is not None and code < 0
                       else f"exit code {code}")
                pytest.fail(f"{test.__name__} crashed the process ({how})", pytrace=False)
            if failure:
                pytest.fail(failure, pytrace=False)

        return run

    return wrap
