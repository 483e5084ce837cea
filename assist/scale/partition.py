"""One worker's engine over the partitions it owns: entries in, a batch of Redis writes out.

Everything here is synchronous and deterministic: the clock is the stream entry's id (the time Redis
accepted it), so a worker that takes a partition over and applies the same entries again reaches the
same state. `worker.py` does the I/O around it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from assist.core.engine import Engine
from assist.core.outputs import Output, Prompt
from assist.scale.keys import Keys, next_id, parse_id
from assist.server.hub import Hub, LiveCall
from assist.server.metrics import Metrics
from assist.server.outbox import HIGH

log = logging.getLogger("assist.worker")
NO_ID = (0, 0)


@dataclass(slots=True)
class Owned:
    """A partition this worker holds the lease of."""

    index: int
    checkpoint: str | None            # last entry id whose writes are in Redis (None: never processed)
    position: str = "0-0"             # last entry id applied here
    rebuild: set[str] | None = None   # while catching up: the calls open at the checkpoint (others skipped)
    starts: dict[str, str] = field(default_factory=dict)   # open call → entry id of its call.start
    agents: dict[str, str | None] = field(default_factory=dict)  # open call → agent id
    written: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # open call → shape of the view written

    @property
    def catching_up(self) -> bool:
        """Entries up to the checkpoint are applied again without writing anything (they were)."""
        return self.checkpoint is not None and parse_id(self.position) < parse_id(self.checkpoint)


class Writes:
    """The Redis writes one batch of entries causes, applied by one script (see worker.COMMIT)."""

    def __init__(self) -> None:
        self.args: list[str | int | float] = []

    def __len__(self) -> int:
        return len(self.args)

    def output(self, call_id: str, agent_id: str | None, text: str, rank: int, *, box: str = "",
               supervisors: bool = True, prompt_id: str = "", stamp: float | None = None) -> None:
        self.args += ["X", call_id, agent_id or "", text, rank, box, "1" if supervisors else "",
                      prompt_id, "" if stamp is None else repr(stamp)]

    def hset(self, key: str, name: str, value: str) -> None:
        self.args += ["H", key, name, value]

    def hdel(self, key: str, name: str) -> None:
        self.args += ["D", key, name]

    def delete(self, key: str) -> None:
        self.args += ["Z", key]

    def rpush(self, key: str, value: str) -> None:
        self.args += ["L", key, value]

    def expire(self, key: str, seconds: int) -> None:
        self.args += ["E", key, seconds]

    def trim(self, key: str, min_id: str) -> None:
        self.args += ["T", key, min_id]


class Journal:
    """The hub's call log in Redis mode: each accepted inbound event is appended to the call's list
    (what `assist export` reads); outputs are in the output stream already."""

    def __init__(self, keys: Keys, retention_s: int | None):
        self.keys = keys
        self.retention_s = retention_s
        self.writes = Writes()

    def opened(self, call_id: str, agent_id: str | None) -> None:
        self.writes.delete(self.keys.call_log(call_id))  # a reused call id starts a fresh record

    def inbound(self, call_id: str, kind: str, seq: int | None, uid: str | None, body: str) -> None:
        self.writes.rpush(self.keys.call_log(call_id), body)

    def outbound(self, call_id: str, kind: str, body: str) -> None:
        pass

    def closed(self, call_id: str, reason: str) -> None:
        if self.retention_s:
            self.writes.expire(self.keys.call_log(call_id), self.retention_s)

    def accepted(self, call_id: str) -> None:
        return None  # duplicates of ended calls are recognised while the worker remembers them


class PartitionHub(Hub):
    """The hub of a worker: outputs become writes to the output stream instead of socket queues."""

    def __init__(self, engine: Engine, journal: Journal, *, max_calls: int, metrics: Metrics):
        self.now = 0.0
        super().__init__(engine, max_calls=max_calls, queue_size=4, metrics=metrics,
                         clock=lambda: self.now, calllog=journal)  # type: ignore[arg-type]
        self.writes = journal.writes
        self.touched: set[str] = set()
        self._current: LiveCall | None = None
        self._prompt_id = ""

    def _route(self, live: LiveCall, outputs: list[Output], stamp: float | None) -> None:
        self.touched.add(live.call_id)
        self._current = live
        super()._route(live, outputs, stamp)

    def _announce(self, live: LiveCall, status: str, reason: str | None = None) -> None:
        self.touched.add(live.call_id)
        self._current = live
        super()._announce(live, status, reason)

    def _note(self, live: LiveCall, out: Output) -> None:
        super()._note(live, out)
        self._prompt_id = out.id if isinstance(out, Prompt) else ""

    def _deliver(self, agent_id: str | None, text: str, rank: int, stamp: float | None) -> None:
        live = self._current
        call_id = live.call_id if live is not None else ""
        self.writes.output(call_id, agent_id, text, rank, prompt_id=self._prompt_id, stamp=stamp)
        self._prompt_id = ""
        self.metrics.messages_out.inc()

    def _deliver_to_agent(self, agent_id: str, text: str, rank: int) -> None:
        live = self._current
        self.writes.output(live.call_id if live is not None else "", agent_id, text, rank, supervisors=False)

    def tick_calls(self, call_ids: list[str], idle_timeout_s: float) -> None:
        """Hub.tick for one partition's calls, at the current entry's time."""
        for call_id in call_ids:
            live = self.calls.get(call_id)
            if live is not None:
                self._tick_call(live, self.now, idle_timeout_s)

    def forget(self, call_id: str) -> None:
        """Drop a call this worker no longer owns (its partition went to another worker): nothing is
        written, the new owner rebuilds it."""
        live = self.calls.pop(call_id, None)
        if live is not None:
            self.engine.end_call(call_id, live.last_t_ms)


class Partitions:
    """Applies entries of owned partitions to one engine and collects the writes they cause."""

    def __init__(self, engine: Engine, keys: Keys, *, max_calls: int, idle_timeout_s: float,
                 retention_s: int | None = None, metrics: Metrics | None = None):
        self.keys = keys
        self.metrics = metrics or Metrics()
        self.journal = Journal(keys, retention_s)
        self.hub = PartitionHub(engine, self.journal, max_calls=max_calls, metrics=self.metrics)
        self.idle_timeout_s = idle_timeout_s
        self.refused = 0

    def apply(self, part: Owned, entry_id: str, fields: dict[str, str]) -> None:
        """Apply one inbound entry; while catching up, its writes are dropped (they are in Redis)."""
        hub = self.hub
        kind = fields.get("k", "")
        call_id = fields.get("c", "")
        part.position = entry_id
        quiet = part.checkpoint is not None and parse_id(entry_id) <= parse_id(part.checkpoint)
        if quiet and part.rebuild is not None and kind != "t" and call_id not in part.rebuild:
            return  # a call that had ended (or was refused) before the checkpoint
        hub.now = parse_id(entry_id)[0] / 1000.0
        hub.touched.clear()
        writes_before = len(hub.writes)
        try:
            if kind == "e":
                self._event(part, entry_id, call_id, fields["e"])
            elif kind == "f":
                self._feedback(fields)
            elif kind == "t":
                hub.tick_calls(list(part.starts), self.idle_timeout_s)
            else:
                log.warning(json.dumps({"event": "unknown_entry", "partition": part.index, "id": entry_id}))
        finally:
            hub._current = None
        for cid in hub.touched:
            if cid not in hub.calls:
                part.starts.pop(cid, None)
        if quiet:
            del hub.writes.args[writes_before:]
        else:
            self._views(part, hub.touched)
        if part.rebuild is not None and not part.catching_up:
            part.rebuild = None  # caught up: from here on the writes go out

    def _event(self, part: Owned, entry_id: str, call_id: str, body: str) -> None:
        hub = self.hub
        obj = json.loads(body)
        was_open = call_id in hub.calls
        reply = hub.ingest(obj, hub.now)
        if reply["type"] == "error":  # the gateway checked the shape; this is unknown/ended/capacity
            self.refused += 1
            log.warning(json.dumps({"event": "refused", "call_id": call_id, "seq": reply.get("seq"),
                                    "code": reply.get("code"), "message": reply.get("message")}))
        elif not was_open and call_id in hub.calls:
            part.starts[call_id] = entry_id
            part.agents[call_id] = hub.calls[call_id].agent_id

    def _feedback(self, fields: dict[str, str]) -> None:
        hub = self.hub
        agent_id = fields.get("a", "")
        reply, broadcast = hub.take_feedback(agent_id, json.loads(fields["f"]))
        owner = hub.prompts.get(str(reply.get("id")))
        hub._current = hub.calls.get(owner.call_id) if owner is not None else None
        if broadcast:
            hub.deliver_feedback(agent_id, reply)
        else:
            hub.writes.output(fields.get("c", ""), agent_id, json.dumps(reply, ensure_ascii=False), HIGH,
                              box=fields.get("to", ""), supervisors=False)

    def _views(self, part: Owned, touched: set[str]) -> None:
        """Keep the views in Redis (what a joining sidebar or supervisor draws) in step."""
        writes = self.hub.writes
        for cid in touched:
            live = self.hub.calls.get(cid)
            agent_id = part.agents.get(cid)
            if live is None:
                if part.written.pop(cid, None) is not None or cid in part.agents:
                    writes.hdel(self.keys.views(part.index), cid)
                    if agent_id:
                        writes.hdel(self.keys.agent_views(agent_id), cid)
                part.agents.pop(cid, None)
                continue
            if live.agent_id != agent_id:  # transferred: the view moves to the new agent
                if agent_id:
                    writes.hdel(self.keys.agent_views(agent_id), cid)
                agent_id = part.agents[cid] = live.agent_id
                part.written.pop(cid, None)
            c = live.call
            shape = (c.lang, c.top, *c.types.items(), *(p.id for p in c.prompts))  # the clock alone: no write
            if part.written.get(cid) == shape:
                continue
            part.written[cid] = shape
            text = json.dumps(live.to_dict(), ensure_ascii=False)
            writes.hset(self.keys.views(part.index), cid, text)
            if agent_id:
                writes.hset(self.keys.agent_views(agent_id), cid, text)

    def take(self) -> list[str | int | float]:
        """The writes collected so far; the buffer restarts."""
        args = self.hub.writes.args
        self.hub.writes.args = []
        return args

    def trim_point(self, part: Owned) -> str:
        """Entries before this id are no longer needed: every call open in the partition started at or
        after it, and everything before it was applied."""
        if part.starts:
            return min(part.starts.values(), key=parse_id)
        return next_id(part.position)

    def drop(self, part: Owned) -> None:
        """Forget a partition handed over: its open calls, and which ended calls' events were seen
        (if it comes back, its stream is applied again and must not look like duplicates)."""
        for call_id in list(part.starts):
            self.hub.forget(call_id)
        part.starts.clear()
        for call_id in self.hub.ended:
            if self.keys.partition(call_id) == part.index:
                self.hub.ended.forget(call_id)


def entry_fields(raw: dict[Any, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()}
