"""A bounded, per-connection queue of outgoing messages, so a stuck reader never holds anyone up.

When full, the oldest item of the lowest rank goes (info before warn before urgent); the reader is
told how many went with `{"kind":"dropped","count":n}` before the next message it gets.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LOW, NORMAL, HIGH = 0, 1, 2
_KIND_RANK = {"classification": LOW, "feedback": LOW, "resolved": NORMAL, "expired": NORMAL,
              "call": NORMAL, "summary": HIGH, "state": HIGH, "error": HIGH, "warning": HIGH}
_SEVERITY_RANK = {"info": LOW, "warn": NORMAL, "urgent": HIGH}


def rank_of(message: dict[str, Any]) -> int:
    """How much losing this message would hurt the reader: prompts by severity, alerts always high."""
    if message.get("kind") == "prompt":
        return HIGH if message.get("supervisor") else _SEVERITY_RANK.get(message.get("severity", ""), NORMAL)
    return _KIND_RANK.get(message.get("kind", ""), NORMAL)


@dataclass(slots=True)
class Queued:
    rank: int
    text: str
    stamp: float | None  # perf_counter() when the event that caused it arrived; None for ticks etc.


BATCH_CHARS = 64 << 10  # at most this much of the queue is taken for one write (one message may be more)


class Outbox:
    """Messages waiting for one socket, delivered by a writer that `watch`es it (server/sidebar.py: no
    task of its own per socket)."""

    __slots__ = ("_dropped", "_items", "_on_drop", "_on_sent", "_wake", "bytes", "max_bytes", "size")

    def __init__(self, size: int, on_drop: Callable[[int], None] | None = None,
                 on_sent: Callable[[float], None] | None = None, max_bytes: int = 4 << 20):
        self.size = size
        self.max_bytes = max_bytes  # characters queued, the join snapshot included
        self.bytes = 0
        self._items: deque[Queued] = deque()
        self._dropped = 0
        self._wake: Callable[[], None] | None = None  # a watching writer's
        self._on_drop = on_drop
        self._on_sent = on_sent

    def __len__(self) -> int:
        return len(self._items)

    def put(self, text: str, rank: int = NORMAL, stamp: float | None = None) -> None:
        """Queue a serialized message; never blocks. Drops the oldest lowest-rank item when full."""
        item = Queued(rank, text, stamp)
        while self._items and (len(self._items) >= self.size or self.bytes + len(text) > self.max_bytes):
            lowest = min(i.rank for i in self._items)
            if rank < lowest:
                self._drop(1)  # the newcomer is the least important thing here: it goes
                return
            for victim in self._items:  # oldest first
                if victim.rank == lowest:
                    self._items.remove(victim)
                    self.bytes -= len(victim.text)
                    break
            self._drop(1)
        self._items.append(item)
        self.bytes += len(text)
        self._signal()

    @property
    def dropped(self) -> int:
        """Messages dropped and not yet reported to the reader."""
        return self._dropped

    def pending(self) -> bool:
        """Anything to send: a message, or a drop notice."""
        return bool(self._items or self._dropped)

    def _drop(self, n: int) -> None:
        self._dropped += n
        self._signal()
        if self._on_drop is not None:
            self._on_drop(n)

    def _signal(self) -> None:
        if self._wake is not None:
            self._wake()

    def watch(self, wake: Callable[[], None] | None) -> None:
        """Call `wake()` whenever something is queued (now too, if something is); None: stop."""
        self._wake = wake
        if wake is not None and self.pending():
            wake()

    def take(self) -> tuple[list[str], list[float]]:
        """The next write: a drop notice first whenever some were lost, then what is queued, in order,
        up to BATCH_CHARS (one message may be more); and the stamps of those messages, for `sent`."""
        texts: list[str] = []
        if self._dropped:
            texts.append(json.dumps({"kind": "dropped", "count": self._dropped}))
            self._dropped = 0
        stamps: list[float] = []
        size = 0
        while self._items and (not texts or size < BATCH_CHARS):
            item = self._items.popleft()
            self.bytes -= len(item.text)
            size += len(item.text)
            texts.append(item.text)
            if item.stamp is not None:
                stamps.append(item.stamp)
        return texts, stamps

    def sent(self, stamps: list[float]) -> None:
        """The messages of a `take` left: their latency from the events that caused them."""
        if stamps and self._on_sent is not None:
            now = time.perf_counter()
            for stamp in stamps:
                self._on_sent(now - stamp)
