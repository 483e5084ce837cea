"""The live call registry between /ingest and the sockets: feeds the engine, keeps per-call views,
routes outputs to the right agent's sidebars and to supervisors.

The hub never reaches into the engine: each ``engine.feed(event)`` returns the outputs and the call's
view after the event (``Fed.call``, a read-only :class:`CallView`), and the hub keeps that view as the
call's record (open prompts, classification, language) for sidebars that join mid-way.

Everything here runs on the server's event-loop thread (the engine is not thread-safe) and never
awaits: a slow socket only ever fills its own bounded Outbox. With a call log (`calllog`), every
accepted event and every output is buffered into it as it happens; the server commits the buffer
before it sends the acks.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from assist.core.events import (
    AnyEvent,
    CallEnd,
    CallStart,
    Feedback,
    Tick,
    Utterance,
    describe,
    event_time,
    parse_event,
    safe_echo,
    validation_problem,
)
from assist.core.outputs import CallView, Fed, Output, Prompt, Transferred
from assist.errors import AssistError, CallEnded, CapacityError, EventError, Problem
from assist.server.calllog import CallLog, OpenCall
from assist.server.ledger import EndedCalls, PromptLedger, PromptOwner, new_generation, uid_key
from assist.server.metrics import Metrics
from assist.server.outbox import HIGH, NORMAL, Outbox, rank_of
from assist.server.wire import ingest_error, socket_error, to_text

Reply = dict[str, Any]
log = logging.getLogger("assist.server")
REMEMBER_ENDED = 10_000    # ended calls remembered, to tell "already ended" from "unknown"
SNAPSHOT_EVIDENCE_CHARS = 280  # per quote in a join snapshot: 600 calls of 20,000-character quotes made 42 MB
MAX_SEQS_PER_CALL = 100_000


@dataclass(slots=True)
class LiveCall:
    """The hub's record of an open call: the engine's latest view of it (`call`, replaced after every
    event, never edited here) and what only the hub knows: the live clock and what was accepted."""

    call: CallView
    last_t_ms: int      # event time of the last CTI event (ticks and feedback do not move it)
    last_wall: float    # monotonic time that event arrived
    seqs: set[int] = field(default_factory=set)
    uids: set[int] = field(default_factory=set)  # keys (ledger.uid_key) of the utterance ids accepted
    generation: int = field(default_factory=new_generation)  # tells a reused call id from this call

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def agent_id(self) -> str | None:
        return self.call.agent_id

    def to_dict(self) -> dict[str, Any]:
        """The call as a sidebar joining mid-way draws it (one entry of a `state` message)."""
        c = self.call
        return {"call_id": c.call_id, "agent_id": c.agent_id, "lang": c.lang, "t_ms": self.last_t_ms,
                "top": c.top,
                "types": c.classification.types if c.classification else {},
                "classification": _short(c.classification.to_dict()) if c.classification else None,
                "prompts": [_short(p.to_dict()) for p in c.prompts]}


def _short(output: dict[str, Any]) -> dict[str, Any]:
    """An output with its evidence quotes cut to SNAPSHOT_EVIDENCE_CHARS (live messages keep them whole)."""
    quotes = output.get("evidence") or []
    if all(len(e.get("text", "")) <= SNAPSHOT_EVIDENCE_CHARS for e in quotes):
        return output
    cut = [e | {"text": e["text"][:SNAPSHOT_EVIDENCE_CHARS] + "…"} if len(e.get("text", "")) >
           SNAPSHOT_EVIDENCE_CHARS else e for e in quotes]
    return output | {"evidence": cut}


class SidebarFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["feedback"]
    id: str
    action: Literal["ack", "dismiss", "helpful", "not_helpful"]


def event_error(exc: AssistError, seq: Any, call_id: Any, code: str | None = None) -> Reply:
    """The /ingest error frame for one event (see :mod:`assist.server.wire`)."""
    return ingest_error(exc, code=code, seq=seq, call_id=call_id)


class CallEngine(Protocol):
    """What the hub needs of the engine: an Engine, or the server's PackVersions (several pack versions)."""

    def feed(self, event: AnyEvent | dict[str, Any]) -> Fed: ...

    def end_call(self, call_id: str, t_ms: int) -> list[Output]: ...


class Hub:
    """Call registry and router. `clock` is monotonic seconds (injectable for tests)."""

    def __init__(self, engine: CallEngine, *, max_calls: int, queue_size: int, metrics: Metrics,
                 clock: Callable[[], float] = time.monotonic, calllog: CallLog | None = None,
                 outbox_bytes: int = 4 << 20):
        self.engine = engine
        self.rules_version: str | None = None  # shown in the supervisor's state
        self.outbox_bytes = outbox_bytes
        self.calllog = calllog
        self.max_calls = max_calls
        self.queue_size = queue_size
        self.metrics = metrics
        self.clock = clock
        self.calls: dict[str, LiveCall] = {}
        self.ended = EndedCalls(REMEMBER_ENDED)  # call → seqs, utterance-id keys
        self.prompts = PromptLedger()  # prompt id → call, generation, agent, rating
        self.agents: dict[str, set[Outbox]] = {}
        self.supervisors: set[Outbox] = set()
        self.on_summary: Callable[[dict[str, Any], dict[str, Any]], None] | None = None  # (call, summary)
        self._on_drop, self._on_sent = metrics.dropped.inc, metrics.latency.observe  # one bound method for all outboxes

    # -- sockets ------------------------------------------------------------------------------------
    def new_outbox(self) -> Outbox:
        return Outbox(self.queue_size, on_drop=self._on_drop, on_sent=self._on_sent, max_bytes=self.outbox_bytes)

    def join_agent(self, agent_id: str, box: Outbox) -> None:
        """Register a sidebar; its first message is the current state of the agent's calls."""
        calls = [c.to_dict() for c in self.calls.values() if c.agent_id == agent_id]
        box.put(json.dumps({"kind": "state", "agent_id": agent_id, "calls": calls}, ensure_ascii=False), HIGH)
        self.agents.setdefault(agent_id, set()).add(box)

    def join_supervisor(self, box: Outbox) -> None:
        calls = [c.to_dict() for c in self.calls.values()]
        box.put(json.dumps({"kind": "state", "calls": calls, "rules": self.rules_version}, ensure_ascii=False), HIGH)
        self.supervisors.add(box)

    def leave(self, box: Outbox, agent_id: str | None = None) -> None:
        self.supervisors.discard(box)
        if agent_id is not None and agent_id in self.agents:
            self.agents[agent_id].discard(box)
            if not self.agents[agent_id]:
                del self.agents[agent_id]

    # -- ingest -------------------------------------------------------------------------------------
    def ingest(self, obj: Any, stamp: float | None = None, raw: str | None = None) -> Reply:
        """Apply one decoded JSON value from /ingest; return the ack or error to send back. `raw` is
        the JSON text `obj` was decoded from, when the message held this event alone: the call log
        keeps it as it came instead of encoding `obj` again."""
        seq = obj.get("seq") if isinstance(obj, dict) else None
        call_id = obj.get("call_id") if isinstance(obj, dict) else None
        try:
            ev = parse_event(obj)
        except EventError as exc:
            return self._refused(event_error(exc, seq, call_id))
        seq, call_id = ev.seq, ev.call_id
        live = self.calls.get(call_id)
        if self._seen(live, ev):
            self.metrics.duplicates.inc()
            return {"type": "ack", "seq": seq, "call_id": call_id, "duplicate": True}
        if live is None and call_id in self.ended and not isinstance(ev, CallStart):
            ended = CallEnded(f"call '{call_id}' already ended: expected no events after its call.end",
                              field="call_id", expected="an open call", got=call_id)
            return self._refused(event_error(ended, seq, call_id))
        if isinstance(ev, CallStart) and live is None and len(self.calls) >= self.max_calls:
            return self._refused(self._capacity_error(seq, call_id))
        try:
            fed = self.engine.feed(ev)
        except CapacityError:
            return self._refused(self._capacity_error(seq, call_id))
        except EventError as exc:
            return self._refused(event_error(exc, seq, call_id))
        except Exception as exc:  # an engine bug must cost one event, not the connection and its calls
            log.exception("engine_failed", extra={"call_id": call_id, "seq": seq})
            fault = EventError(f"the engine failed on this event ({type(exc).__name__}); the call goes on",
                               field="", expected="an event the engine can apply", got=type(exc).__name__)
            return self._refused(event_error(fault, seq, call_id, "internal"))
        live = self._apply(live, ev, fed.call, self.clock())
        if self.calllog is not None:
            if isinstance(ev, CallStart):
                self.calllog.opened(call_id, ev.agent_id)
            final_uid = ev.utterance_id if isinstance(ev, Utterance) and ev.final else None  # partials share it
            self.calllog.inbound(call_id, ev.type, seq, final_uid,
                                 raw if raw is not None else json.dumps(obj, ensure_ascii=False))
        if isinstance(ev, CallStart):
            self._announce(live, "started")
            self.metrics.open_calls.set(len(self.calls))
        self._route(live, fed, stamp)
        if not fed.call.open:  # call.end
            self._close(live, "ended")
        self.metrics.accepted.inc()
        return {"type": "ack", "seq": seq, "call_id": call_id}

    def _seen(self, live: LiveCall | None, ev: AnyEvent) -> bool:
        """Was this event (by seq, or an utterance by the utterance_id of a final already accepted) accepted
        before, also by a process that ran before this one on the same call log? A partial after its
        final is late news, answered as a duplicate too."""
        uid = ev.utterance_id if isinstance(ev, Utterance) else None
        if ev.seq is None and uid is None:
            return False
        if live is not None:
            seqs, uids = live.seqs, live.uids
        else:
            if ev.call_id not in self.ended and self.calllog is not None:
                found = self.calllog.accepted(ev.call_id)
                if found is not None:
                    self._remember_ended(ev.call_id, *found)
            seqs, uids = self.ended.get(ev.call_id) or (set(), set())
        return (ev.seq is not None and ev.seq in seqs) or (uid is not None and uid_key(uid) in uids)

    def _apply(self, live: LiveCall | None, ev: AnyEvent, view: CallView, now: float) -> LiveCall:
        """Update the hub's record of a call after the engine accepted `ev` (live or in recovery)."""
        if isinstance(ev, CallStart):
            self.ended.forget(ev.call_id)
            live = self.calls[ev.call_id] = LiveCall(view, ev.t_ms, now)
        assert live is not None
        live.call = view
        if ev.seq is not None and len(live.seqs) < MAX_SEQS_PER_CALL:
            live.seqs.add(ev.seq)
        if isinstance(ev, Utterance) and ev.final and ev.utterance_id is not None \
                and len(live.uids) < MAX_SEQS_PER_CALL:  # a partial's id is its final's: only the final counts
            live.uids.add(uid_key(ev.utterance_id))
        if not isinstance(ev, (Tick, Feedback)):  # the live clock runs from the CTI's events only
            live.last_t_ms = max(live.last_t_ms, event_time(ev))
            live.last_wall = now
        return live

    def restore(self, call: OpenCall) -> int:
        """Rebuild a call that was open when the previous process died: its logged inbound events go
        through the engine again (event time makes this exact) and the hub's view follows the
        outputs; nothing is sent and nothing is logged again. Returns the events applied."""
        live = self.calls.get(call.call_id)
        applied = 0
        for obj in call.events:
            try:
                ev = parse_event(obj)
            except EventError:  # logged by a version with looser bounds: skipped, said, the call goes on
                log.warning("restore_skipped", extra={"call_id": call.call_id, "seq": safe_echo(obj.get("seq"))})
                continue
            try:
                fed = self.engine.feed(ev)
            except Exception:  # refused then as now: it was logged only if accepted, so this is a bug
                log.exception("restore_failed", extra={"call_id": call.call_id, "seq": ev.seq})
                continue
            live = self._apply(live, ev, fed.call, self.clock())
            for out in fed:
                self._note(live, out)
            applied += 1
            if not fed.call.open:
                self.calls.pop(call.call_id, None)
                self._remember_ended(call.call_id, live.seqs, live.uids)
        self.metrics.open_calls.set(len(self.calls))
        return applied

    def _remember_ended(self, call_id: str, seqs: set[int], uids: set[int] | set[str]) -> None:
        keys = {u if isinstance(u, int) else uid_key(u) for u in uids}  # the call log hands back ids
        self.ended.remember(call_id, seqs, keys)

    def _refused(self, reply: Reply) -> Reply:
        self.metrics.refused.inc()
        return reply

    def _capacity_error(self, seq: Any, call_id: str) -> Reply:
        exc = CapacityError(f"the server already has {self.max_calls} open calls: call '{call_id}' refused",
                            field="call_id", expected=f"at most {self.max_calls} open calls", got=call_id)
        return event_error(exc, seq, call_id)

    # -- clock --------------------------------------------------------------------------------------
    def tick(self, idle_timeout_s: float, part: int = 0, parts: int = 1) -> None:
        """Advance every `parts`-th open call (from `part`) to its live time; close idle calls.

        A call's live time is its last event time plus the wall time since that event arrived."""
        now = self.clock()
        for live in list(self.calls.values())[part::parts]:
            self._tick_call(live, now, idle_timeout_s)

    def _tick_call(self, live: LiveCall, now: float, idle_timeout_s: float) -> None:
        """Advance one call to its live time at wall time `now`, or close it if it has been idle."""
        idle = now - live.last_wall
        t_ms = live.last_t_ms + int(idle * 1000)
        if idle > idle_timeout_s:
            self._end_without_event(live, t_ms, "idle")
            return
        if live.call.due_ms is None or t_ms < live.call.due_ms:
            return  # nothing waits on the clock yet: the tick would change nothing
        fed = self.engine.feed(Tick.model_construct(type="tick", call_id=live.call_id, t_ms=t_ms, seq=None))
        live.call = fed.call
        if fed and self.calllog is not None:  # it changed the call: recovery must see it too
            self.calllog.inbound(live.call_id, "tick", None, None, json.dumps(
                {"type": "tick", "call_id": live.call_id, "t_ms": t_ms}, ensure_ascii=False))
        self._route(live, fed, None)

    def _end_without_event(self, live: LiveCall, t_ms: int, reason: str) -> None:
        """Close a call the CTI never ended; the log gets the call.end it would have sent."""
        if self.calllog is not None:
            self.calllog.inbound(live.call_id, "call.end", None, None, json.dumps(
                CallEnd(type="call.end", call_id=live.call_id, t_ms=t_ms).model_dump(exclude_none=True)
                | {"reason": reason}, ensure_ascii=False))
        self._route(live, self.engine.end_call(live.call_id, t_ms), None)
        self._close(live, reason)

    # -- routing ------------------------------------------------------------------------------------
    def _close(self, live: LiveCall, reason: str) -> None:
        self.calls.pop(live.call_id, None)
        self._remember_ended(live.call_id, live.seqs, live.uids)
        if self.calllog is not None:
            self.calllog.closed(live.call_id, reason)
        self._announce(live, "ended", reason)
        self.metrics.open_calls.set(len(self.calls))

    def _announce(self, live: LiveCall, status: str, reason: str | None = None) -> None:
        msg: dict[str, Any] = {"kind": "call", "call_id": live.call_id, "agent_id": live.agent_id,
                               "lang": live.call.lang, "t_ms": live.last_t_ms, "status": status}
        if reason is not None:
            msg["reason"] = reason
        self._deliver(live.agent_id, to_text(msg), NORMAL, None)
        log.info(f"call_{status}", extra={"call_id": live.call_id, "agent_id": live.agent_id,
                                          **({"reason": reason} if reason else {})})

    def _route(self, live: LiveCall, outputs: list[Output], stamp: float | None) -> None:
        for out in outputs:
            self._note(live, out)
            msg = out.to_dict()
            kind = msg["kind"]
            if kind == "prompt":
                self.metrics.prompts_out.inc()
            elif kind == "summary" and self.on_summary is not None:  # the webhook only queues it
                self.on_summary({"call_id": live.call_id, "agent_id": live.agent_id, "lang": live.call.lang}, msg)
            text = to_text(msg)
            if self.calllog is not None:
                self.calllog.outbound(live.call_id, kind, text)
            if isinstance(out, Transferred):
                self._hand_over(live, out)
                continue
            self._deliver(live.agent_id, text, rank_of(msg), stamp if kind == "prompt" else None)

    def _note(self, live: LiveCall, out: Output) -> None:
        """Remember which call and agent a prompt belongs to, for the feedback on it."""
        if isinstance(out, Prompt):
            self.prompts.note(out.id, PromptOwner(live.call_id, out.rule, live.agent_id, live.generation))
        elif isinstance(out, Transferred):  # the new agent answers the prompts still on screen
            for prompt in live.call.prompts:
                owner = self.prompts.get(prompt.id)
                if owner is not None:
                    owner.agent_id = out.agent_id

    def _hand_over(self, live: LiveCall, out: Transferred) -> None:
        """A transfer: the old agent's sidebars see the call leave (and get nothing more of it); the new
        agent's sidebars and the supervisors get it with a snapshot (type, open prompts) to draw from."""
        note = {"kind": "call", "call_id": live.call_id, "agent_id": out.agent_id, "from_agent_id": out.from_agent_id,
                "lang": live.call.lang, "t_ms": out.t_ms, "status": "transferred"}
        if out.from_agent_id is not None and out.from_agent_id != out.agent_id:
            self._deliver_to_agent(out.from_agent_id, json.dumps(note, ensure_ascii=False), HIGH)
        self._deliver(out.agent_id, json.dumps(note | {"call": live.to_dict()}, ensure_ascii=False), HIGH, None)

    def _deliver_to_agent(self, agent_id: str, text: str, rank: int) -> None:
        """To the agent's sidebars only, not to supervisors."""
        for box in self.agents.get(agent_id, ()):
            box.put(text, rank, None)

    def _deliver(self, agent_id: str | None, text: str, rank: int, stamp: float | None) -> None:
        boxes = self.agents.get(agent_id, ()) if agent_id is not None else ()
        for box in boxes:
            box.put(text, rank, stamp)
        for box in self.supervisors:
            box.put(text, rank, None)
        self.metrics.messages_out.inc(len(boxes) + len(self.supervisors))

    # -- feedback -----------------------------------------------------------------------------------
    def take_feedback(self, agent_id: str, obj: Any) -> tuple[Reply, bool]:
        """Validate and apply a sidebar's feedback: count it, feed it to the engine as a `feedback`
        event (so the call's state and summary include it) and log it. Returns the answer (or an
        error) and whether it goes to every sidebar of the agent (ack/dismiss) instead of the sender."""
        try:
            fb = SidebarFeedback.model_validate(obj)
        except ValidationError as exc:
            return socket_error(validation_problem(exc)), False
        owner = self.prompts.get(fb.id)
        if owner is None or owner.agent_id != agent_id:  # another agent's prompt is refused like a missing one
            return socket_error(Problem("", f"no prompt {describe(fb.id)} on a call of agent '{agent_id}'", "id",
                                        "a prompt id of one of your calls", describe(fb.id))), False
        call_id, rule = owner.call_id, owner.rule
        live = self.calls.get(call_id)
        if live is not None and live.generation != owner.generation:  # the id was reused by a new call
            return socket_error(Problem("", f"prompt {describe(fb.id)} belongs to an earlier call '{call_id}' that "
                                        "has ended; its id now names another call", "id",
                                        "a prompt of a call that is still yours", describe(fb.id))), False
        answer = {"kind": "feedback", "call_id": call_id, "id": fb.id, "rule": rule, "action": fb.action,
                  "ok": True}
        if not owner.take(fb.action):  # one rating per prompt: a repeat is neither counted nor logged
            return answer | {"duplicate": True}, False
        self.metrics.feedback.labels(rule, fb.action).inc()
        if live is not None:
            self._feed_feedback(live, fb)
        if self.calllog is not None:
            self.calllog.outbound(call_id, "feedback", json.dumps(answer, ensure_ascii=False))
        return answer, fb.action in ("ack", "dismiss") and live is not None

    def deliver_feedback(self, agent_id: str, answer: Reply) -> None:
        self._deliver(agent_id, json.dumps(answer, ensure_ascii=False), NORMAL, None)

    def _feed_feedback(self, live: LiveCall, fb: SidebarFeedback) -> None:
        """The engine hears the feedback at the call's live time (its last event time plus the wall
        time since), like a tick; the event is logged so recovery and export replay it."""
        t_ms = live.last_t_ms + int((self.clock() - live.last_wall) * 1000)
        event = {"type": "feedback", "call_id": live.call_id, "prompt_id": fb.id, "action": fb.action,
                 "t_ms": t_ms}
        try:
            fed = self.engine.feed(Feedback.model_validate(event))
        except EventError:  # the engine no longer knows the prompt: counted above, nothing to change
            log.warning("feedback_not_applied", extra={"call_id": live.call_id, "id": fb.id})
            return
        live.call = fed.call  # an ack or dismiss took the prompt off the sidebar
        if self.calllog is not None:
            self.calllog.inbound(live.call_id, "feedback", None, None, json.dumps(event, ensure_ascii=False))
        self._route(live, fed, None)
