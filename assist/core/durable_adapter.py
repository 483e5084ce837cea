"""The only module that imports durable_rules; everything it does wrong stops here.

What this contains (see the measurements in the project notes):
- a Host whose background threads never start: time comes from events, not wall-clock timers;
- rulesets registered once per process under a content-addressed name, in shards, because one
  ruleset corrupts itself past 1,024 live sessions; a call is routed to a shard by a stable hash
  and refused with CapacityError before any shard is full;
- an event is consumed by the first rule that fires, so the same facts are posted again with that
  rule's done flag set until nothing more fires;
- MessageNotHandledException is the normal "no rule matched" answer; MessageObservedException
  (content de-duplication) is impossible because every post carries a fresh counter;
- an exception inside an action is swallowed by durable_rules, so actions only append to a list
  and are wrapped; a failure is reported back to the caller instead of disappearing;
- sessions are never deleted: delete_state segfaults under load (measured here: 1,000 calls, about
  the 400th delete; upstream PR #297 fixed the same crash only in the old v0), and raises error 309 for
  a session never posted to. Instead each shard has a fixed pool of session slots that calls borrow
  and return. Compiled rules are single-pattern (no joins) and never use durable_rules' own state, so
  a slot keeps nothing from its previous call: unmatched events are discarded, matched ones consumed.
  C memory is bounded by the pool, whatever the number of calls over a process's life.
"""

from __future__ import annotations

import copy
import threading
import uuid
import weakref
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from durable import engine as _durable

from assist.errors import CapacityError

SESSIONS_PER_SHARD = 900  # durable_rules breaks at 1,025 live sessions per ruleset; stay well clear


class _QuietHost(_durable.Host):  # type: ignore[misc]
    """durable_rules Host without its two wall-clock dispatch threads."""

    def __init__(self) -> None:
        self.fired: list[tuple[str, str]] = []
        self.faults: list[tuple[str, str]] = []
        super().__init__()

    def _run(self) -> None:
        return None

    def get_action(self, action_name: str) -> Any:
        fired = self.fired
        faults = self.faults

        def action(c: Any) -> None:
            try:
                fired.append((action_name, str(c.m["sid"])))
            except Exception as exc:  # durable_rules would swallow it; report it instead
                faults.append((action_name, repr(exc)))

        return action


@dataclass
class _Shared:
    host: _QuietHost
    free: dict[str, list[list[int]]] = field(default_factory=dict)  # ruleset → free slots per shard
    lock: threading.RLock = field(default_factory=threading.RLock)


_SHARED: _Shared | None = None


def _shared() -> _Shared:
    global _SHARED
    if _SHARED is None:
        _SHARED = _Shared(_QuietHost())
    return _SHARED


@dataclass(frozen=True, slots=True)
class Fired:
    rules: list[str]
    faults: list[tuple[str, str]]


class DurableRules:
    """Evaluate a compiled ruleset for many calls; one durable_rules session per open call."""

    def __init__(self, name: str, definition: Mapping[str, Any], done_flags: Mapping[str, str],
                 max_calls: int):
        self._shared = _shared()
        self._base = name
        self._shards = max(1, -(-max_calls // SESSIONS_PER_SHARD))
        self._done = dict(done_flags)
        self._max_calls = max_calls
        with self._shared.lock:
            free = self._shared.free.setdefault(name, [])
            for shard in range(len(free), self._shards):
                # register_rulesets mutates what it is given: always hand it a copy
                self._shared.host.register_rulesets({self._shard_name(shard): copy.deepcopy(dict(definition))})
                free.append(list(range(SESSIONS_PER_SHARD - 1, -1, -1)))
        self._calls: dict[str, tuple[str, int, str]] = {}  # call id → (ruleset name, shard, sid)
        # slots are shared by every engine of this pack: one dropped with calls open must give them back
        weakref.finalize(self, _give_back, self._shared, name, self._calls)
        self._counter = 0

    def _shard_name(self, shard: int) -> str:
        return f"{self._base}#{shard}"

    @property
    def open_calls(self) -> int:
        return len(self._calls)

    def open(self, call_id: str) -> None:
        if call_id in self._calls:
            return
        if len(self._calls) >= self._max_calls:
            raise CapacityError(f"call '{call_id}' refused: {self._max_calls} calls already open "
                                "(the configured maximum)")
        with self._shared.lock:
            free = self._shared.free[self._base]
            first = zlib.crc32(call_id.encode()) % self._shards
            for step in range(self._shards):
                shard = (first + step) % self._shards
                if free[shard]:
                    slot = free[shard].pop()
                    self._calls[call_id] = (self._shard_name(shard), shard, f"s{slot}")
                    return
        raise CapacityError(f"call '{call_id}' refused: every rules shard holds {SESSIONS_PER_SHARD} live "
                            "calls")

    def evaluate(self, call_id: str, facts: dict[str, Any], could_fire: int | None = None) -> Fired:
        """Post `facts` for an open call; return every rule that fires on them (each at most once).

        `could_fire` is how many rules could match at most; once that many fired, no repost is needed.
        """
        ruleset, _, sid = self._calls[call_id]
        host = self._shared.host
        fired_rules: list[str] = []
        faults: list[tuple[str, str]] = []
        event = dict(facts)
        event["sid"] = sid
        with self._shared.lock:
            for _ in range(len(self._done) + 1):
                self._counter += 1
                event["n"] = self._counter
                host.fired.clear()
                host.faults.clear()
                try:
                    host.post(ruleset, event)
                except _durable.MessageNotHandledException:
                    break
                except _durable.MessageObservedException:
                    break
                faults.extend(host.faults)
                new = [name for name, s in host.fired if s == sid]
                if not new:
                    break
                for name in new:
                    fired_rules.append(name)
                    event[self._done[name]] = 1
                if could_fire is not None and len(fired_rules) >= could_fire:
                    break
        return Fired(fired_rules, faults)

    def close(self, call_id: str) -> None:
        entry = self._calls.pop(call_id, None)
        if entry is None:
            return
        _, shard, sid = entry
        with self._shared.lock:
            self._shared.free[self._base][shard].append(int(sid[1:]))

    def close_all(self) -> None:
        _give_back(self._shared, self._base, self._calls)


def _give_back(shared: _Shared, base: str, calls: dict[str, tuple[str, int, str]]) -> None:
    """Return the slots of every call in `calls` to the pool and forget the calls."""
    with shared.lock:
        for _, shard, sid in calls.values():
            shared.free[base][shard].append(int(sid[1:]))
        calls.clear()


class RawRuleset:
    """A fresh copy of a ruleset, sharded like the engine's, for baselines: bare durable_rules posting.

    `post(shard_name, event)` is durable_rules' own post, with nothing around it; it raises one of
    `NOTHING_FIRED` when no rule matched. Sessions are never freed (deleting them is what crashes):
    for benchmarks only.
    """

    NOTHING_FIRED = (_durable.MessageNotHandledException, _durable.MessageObservedException)

    def __init__(self, definition: Mapping[str, Any], shards: int):
        shared = _shared()
        self._names = [f"raw-{uuid.uuid4().hex[:8]}#{shard}" for shard in range(shards)]
        with shared.lock:
            for name in self._names:
                shared.host.register_rulesets({name: copy.deepcopy(dict(definition))})
        self.post = shared.host.post

    def shard_of(self, call_id: str) -> str:
        """The shard name a call's events go to (the same stable hash the engine routes by)."""
        return self._names[zlib.crc32(call_id.encode()) % len(self._names)]
