"""Garbage-collector settings for the live server: no full collection in the middle of the traffic.

Measured on the e2e bench (1,000 calls, loopback, quiet 2-core machine): with CPython's defaults a
full (generation 2) collection paused the event loop for 50-130 ms a few times a minute, and every
message in flight waited - p99 ingest→sidebar latency 95 ms for a p50 of 1.8 ms. With automatic full
collections off and young collections less frequent, p99 was 6-11 ms. Cycles still have to be freed,
so a full collection runs on a timer instead (one bounded pause every few minutes, its length exported
as a metric), and long-lived objects (rules, engine tables) are frozen out of it at start.

What was left (live bench, call log on, 3,000 calls): generation-1 collections of 10-41 ms of CPU each
and generation-0 collections of ~2 ms that freed nothing (0 objects in every young collection of the
measured window). A call's state (its view, prompts, evidence, the sockets' futures) lives as long as
the call, so it survived every young collection, and each generation-1 collection walked all of it
again. Now generation 1 is never collected automatically either: what survives a generation-0
collection waits for the timed full collection, which walks those objects once instead of every few
seconds; generation 0 is kept smaller, so each of its collections is shorter (median ~0.5-1 ms).

Generation 0 is collected when allocations minus deallocations pass its threshold, not when it holds
that many objects. At 5,000 calls the sidebar sockets' per-message objects (an outbox item, the pump's
lists, its Event.wait coroutine and future) and the ended calls' state die old while new ones are made:
the count stood still for 4 s while the young generation grew to ~55,000 objects, whose collection then
took 30-35 ms of CPU in one piece (the start of a 50-125 ms chain of late loop turns). So generation 0 is
also collected on a timer (`YOUNG_EVERY_S`) when no collection ran since the last tick: at most a tenth
of a second of young objects, 1-5 ms, and no more collections than before.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

YOUNG = 2_000        # allocations between generation-0 collections (CPython default 700)
NEVER = 1_000_000    # collections of the generation below before this one is collected: in effect never
YOUNG_EVERY_S = 0.1  # at least one generation-0 collection this often (see above)


class QuietGC:
    """Apply the server's GC settings for the lifetime of a server; restore the old ones after."""

    def __init__(self, full_every_s: float, observe: Callable[[float], None] | None = None):
        self.full_every_s = full_every_s
        self.observe = observe
        self._saved: tuple[int, int, int] | None = None
        self._task: asyncio.Task[None] | None = None
        self._young: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._saved = gc.get_threshold()
        gc.collect()
        gc.freeze()  # what exists now (rules, tables, imports) lives for the whole process
        gc.set_threshold(YOUNG, NEVER, NEVER)  # older generations: on the timer only
        self._task = asyncio.get_running_loop().create_task(self._full_collections())
        self._young = asyncio.get_running_loop().create_task(self._young_collections())

    async def _full_collections(self) -> None:
        while True:
            await asyncio.sleep(self.full_every_s)
            started = time.perf_counter()
            gc.collect()
            if self.observe is not None:
                self.observe(time.perf_counter() - started)

    @staticmethod
    async def _young_collections() -> None:
        """Collect generation 0 whenever YOUNG_EVERY_S passed without a collection of it."""
        seen = gc.get_stats()[0]["collections"]
        while True:
            await asyncio.sleep(YOUNG_EVERY_S)
            now = gc.get_stats()[0]["collections"]
            if now == seen:
                gc.collect(0)
                now = gc.get_stats()[0]["collections"]
            seen = now

    def stop(self) -> None:
        for task in (self._task, self._young):
            if task is not None:
                task.cancel()
        self._task = self._young = None
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
