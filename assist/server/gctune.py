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

What survives a tenth of a second is frozen (`FREEZE_EVERY_S`): the timed full collection walked every
object that lives as long as a call or a socket, and with 5,000 calls open those were ~400,000 objects
(the sidebar sockets' ~47 each, the calls' ~28, the bounded memories of ended calls and prompts):
140-210 ms with the sockets closed, more with them open. At each step, at a quiet point of the loop,
generations 0 and 1 (what was made since the last step) are collected and what survives is moved to
the permanent generation (`gc.freeze()`), so a collection only ever walks young objects (steps of 1 s
walked a second of survivors at once: 5-55 ms at 5,000 calls; a tenth of a second: under 10 ms).

Frozen objects are still freed by their reference counts when they die; a frozen object that dies in
a reference cycle is not. Closed sockets left such cycles: websockets' frame parser (a generator whose
frame refers to its protocol) and the error that ended a broken stream; `end_parser` breaks them when
a connection is lost, and tests/server/test_gc_freeze.py closes sockets in every way and ends calls,
then finds no garbage at all in the frozen generation. For what that test cannot foresee, the server
hands each closed socket's connection to `closed`: one still there a whole full-collection interval
after its close counts as leaked, and once more than `LEAKED_SOCKETS` are, everything is unfrozen and
collected once (`refresh`: the full walk of before, logged as gc_refresh and counted in the same pause
metric). Counting the frozen objects instead (`gc.get_freeze_count`) would walk all of them (13 ms at
1,000 calls). And since only sockets are watched, a refresh also runs at least every
`REFRESH_EVERY_S` (`gc_refresh_every_s`): frozen garbage of any other kind is held for an hour at
most, for one full walk an hour (~280 ms at 5,000 calls with their sockets open). Freezing needs
uvloop: asyncio's own socket transports keep a bound method of themselves, a cycle per closed
socket, so the server freezes nothing after its start on asyncio's loop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import traceback
import weakref
from collections.abc import Callable

from websockets.protocol import Protocol

log = logging.getLogger("assist.server")

YOUNG = 2_000        # allocations between generation-0 collections (CPython default 700)
NEVER = 1_000_000    # collections of the generation below before this one is collected: in effect never
YOUNG_EVERY_S = 0.1  # at least one generation-0 collection this often (see above)
FREEZE_EVERY_S = 0.1  # what survives this long is frozen (see above)
LEAKED_SOCKETS = 100  # closed sockets still held a whole interval after their close: then a refresh
REFRESH_EVERY_S = 3600.0  # and a refresh at least this often, whatever the watch saw (0: only on the watch)


class QuietGC:
    """Apply the server's GC settings for the lifetime of a server; restore the old ones after."""

    def __init__(self, full_every_s: float, observe: Callable[[float], None] | None = None,
                 freeze_every_s: float = FREEZE_EVERY_S, leaked_sockets: int = LEAKED_SOCKETS,
                 refresh_every_s: float = REFRESH_EVERY_S):
        self.full_every_s = full_every_s
        self.refresh_every_s = refresh_every_s
        self.observe = observe
        self.freeze_every_s = freeze_every_s  # 0: nothing is frozen after the start
        self.leaked_sockets = leaked_sockets
        self.refreshes = 0
        self._refreshed = time.monotonic()  # the last refresh, or the start
        self.leaked = 0  # closed sockets still there at the last full collection
        self._closed: list[weakref.ref[object]] = []   # closed since the last full collection
        self._watched: list[weakref.ref[object]] = []  # closed before it: must be gone by the next one
        self._saved: tuple[int, int, int] | None = None
        self._task: asyncio.Task[None] | None = None
        self._young: asyncio.Task[None] | None = None
        self._aging: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._saved = gc.get_threshold()
        gc.collect()
        gc.freeze()  # what exists now (rules, tables, imports) lives for the whole process
        gc.set_threshold(YOUNG, NEVER, NEVER)  # older generations: on the timer only
        self._refreshed = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._full_collections())
        if not 0 < self.freeze_every_s <= YOUNG_EVERY_S:  # a freezing step collects the young ones as often
            self._young = asyncio.get_running_loop().create_task(self._young_collections())
        if self.freeze_every_s > 0:
            self._aging = asyncio.get_running_loop().create_task(self._freeze_survivors())

    async def _full_collections(self) -> None:
        while True:
            await asyncio.sleep(self.full_every_s)
            self.full()

    def closed(self, connection: object) -> None:
        """A socket closed: its connection (and all that refers to it) must be gone by the next but one
        full collection."""
        if self.freeze_every_s > 0:
            self._closed.append(weakref.ref(connection))

    def full(self) -> float:
        """The timed full collection (of what is not frozen), then the bound on frozen garbage; its
        pause in seconds, the refresh's included when one ran."""
        started = time.perf_counter()
        gc.collect()
        if self.freeze_every_s > 0:
            gc.freeze()
            held = [ref for ref in self._watched if ref() is not None]
            self.leaked = len(held)
            overdue = 0 < self.refresh_every_s <= time.monotonic() - self._refreshed
            if self.leaked > self.leaked_sockets or overdue:
                self.refresh()
                held = [ref for ref in held if ref() is not None]  # not garbage: referred to from elsewhere
                if held:
                    log.warning("gc_closed_sockets_held", extra={"sockets": len(held)})
                held = []
            self._watched, self._closed = held + self._closed, []
        elapsed = time.perf_counter() - started
        if self.observe is not None:
            self.observe(elapsed)
        return elapsed

    def refresh(self) -> float:
        """Unfreeze, collect everything, freeze again: frozen garbage is freed (one full walk)."""
        started = time.perf_counter()
        gc.unfreeze()
        freed = gc.collect()
        gc.freeze()
        self.refreshes += 1
        self._refreshed = time.monotonic()
        elapsed = time.perf_counter() - started
        log.warning("gc_refresh", extra={"leaked_sockets": self.leaked, "freed": freed,
                                         "pause_ms": round(elapsed * 1000, 1)})
        return elapsed

    async def _freeze_survivors(self) -> None:
        while True:
            await asyncio.sleep(self.freeze_every_s)
            self.age()

    @staticmethod
    def age() -> None:
        """Collect generations 0 and 1 (what was made since the last step) and freeze what survives."""
        gc.collect(1)
        gc.freeze()

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
        for task in (self._task, self._young, self._aging):
            if task is not None:
                task.cancel()
        self._task = self._young = self._aging = None
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
            if self.freeze_every_s > 0:
                gc.unfreeze()  # what the server froze is collected as usual again once it is gone


def end_parser(protocol: Protocol, _: object = None) -> None:
    """Once a connection is closed (a done callback of its `connection_lost_waiter`), end its protocol's
    frame parser. websockets leaves the parser (a generator) suspended at its last `yield`, where its
    frame refers to the protocol that refers to it, and keeps the error that ended a broken stream, whose
    traceback holds that frame too: reference cycles only a collection frees, which the frozen
    generation would keep. Found by tests/server/test_gc_freeze.py: every closed socket left one."""
    protocol.parser.close()
    if protocol.parser_exc is not None and protocol.parser_exc.__traceback__ is not None:
        traceback.clear_frames(protocol.parser_exc.__traceback__)
