"""`assist gateway`: the websocket edge of scale-out mode. The same handlers, pages, tokens, limits
and vendor formats as `assist serve` (it is an AssistServer whose router writes to Redis instead of
feeding an engine); no call state of its own, so any number can run behind a load balancer.

- /ingest: an event is checked (shape, fields), appended to its call's partition stream, and acked
  once Redis accepted it. While Redis is unreachable, a connection whose events cannot be written is
  closed (1011, saying so) without their acks, and new /ingest connections get 503: the client
  resends everything unacknowledged once Redis is back.
- /agent, /supervisor: a joining socket gets the views the workers keep in Redis, then every message
  of the output stream after that snapshot that is for it (nothing missed, nothing twice).
- feedback goes into the call's partition stream; the owning worker answers through the output stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from assist.core.events import parse_event
from assist.errors import EventError
from assist.scale.keys import Keys, event_entry, feedback_entry, parse_id
from assist.scale.settings import ScaleSettings, check_partitions, connect
from assist.scale.streams import StreamWriter
from assist.server.app import AssistServer
from assist.server.config import ServerConfig
from assist.server.http import STATIC_DIR, Identity, respond
from assist.server.hub import SidebarFeedback, event_error
from assist.server.metrics import Metrics
from assist.server.outbox import HIGH, Outbox

log = logging.getLogger("assist.gateway")
REMEMBER_PROMPTS = 100_000
READ_COUNT = 1000


@dataclass(eq=False, slots=True)
class Subscriber:
    """One sidebar or supervisor socket on this gateway."""

    box: Outbox
    agent_id: str | None          # None: a supervisor
    name: str
    floor: tuple[int, int] | None = None  # output entries up to here are in the snapshot it got
    early: list[tuple[tuple[int, int], str, int, float | None]] = field(default_factory=list)

    def put(self, at: tuple[int, int], text: str, rank: int, stamp: float | None) -> None:
        if self.floor is None:
            self.early.append((at, text, rank, stamp))  # the snapshot is on its way
        elif at > self.floor:
            self.box.put(text, rank, stamp)


class GatewayRouter:
    """The router of a gateway (see server.app.Router)."""

    def __init__(self, client: aioredis.Redis, keys: Keys, writer: StreamWriter, metrics: Metrics,
                 queue_size: int, name: str):
        self.client = client
        self.keys = keys
        self.writer = writer
        self.metrics = metrics
        self.queue_size = queue_size
        self.name = name
        self.agents: dict[str, set[Subscriber]] = {}
        self.supervisors: set[Subscriber] = set()
        self.by_box: dict[Outbox, Subscriber] = {}
        self.by_name: dict[str, Subscriber] = {}
        self.prompt_calls: OrderedDict[str, tuple[str, str | None]] = OrderedDict()  # prompt → call, agent
        self.last_id = "0-0"
        self._names = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- /ingest ------------------------------------------------------------------------------------
    def ingest(self, obj: Any, stamp: float | None = None, raw: str | None = None) -> dict[str, Any]:
        """`raw`: the JSON text `obj` came as, when the message held it alone (written as it came)."""
        seq = obj.get("seq") if isinstance(obj, dict) else None
        call_id = obj.get("call_id") if isinstance(obj, dict) else None
        try:
            ev = parse_event(obj)
        except EventError as exc:
            self.metrics.events_in.labels("error").inc()
            return event_error(exc, seq, call_id)
        body = raw if raw is not None else json.dumps(obj, ensure_ascii=False)
        self.writer.add(self.keys.inbound(self.keys.partition(ev.call_id)), event_entry(ev.call_id, body))
        self.metrics.events_in.labels("accepted").inc()
        return {"type": "ack", "seq": ev.seq, "call_id": ev.call_id}

    # -- sockets ------------------------------------------------------------------------------------
    def new_outbox(self) -> Outbox:
        return Outbox(self.queue_size, on_drop=self.metrics.dropped.inc, on_sent=self.metrics.latency.observe)

    def join_agent(self, agent_id: str, box: Outbox) -> None:
        sub = self._join(box, agent_id)
        self.agents.setdefault(agent_id, set()).add(sub)

    def join_supervisor(self, box: Outbox) -> None:
        self.supervisors.add(self._join(box, None))

    def _join(self, box: Outbox, agent_id: str | None) -> Subscriber:
        sub = Subscriber(box, agent_id, f"{self.name}:{next(self._names)}")
        self.by_box[box] = sub
        self.by_name[sub.name] = sub
        task = asyncio.get_running_loop().create_task(self._snapshot(sub))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return sub

    def leave(self, box: Outbox, agent_id: str | None = None) -> None:
        sub = self.by_box.pop(box, None)
        if sub is None:
            return
        self.by_name.pop(sub.name, None)
        self.supervisors.discard(sub)
        if agent_id is not None and agent_id in self.agents:
            self.agents[agent_id].discard(sub)
            if not self.agents[agent_id]:
                del self.agents[agent_id]

    async def _snapshot(self, sub: Subscriber) -> None:
        """The views in Redis and the output stream's last id, read together: the socket gets the
        views, then only what came after them."""
        delay = 0.1
        while sub.box in self.by_box:
            try:
                pipe = self.client.pipeline(transaction=True)
                if sub.agent_id is not None:
                    pipe.hvals(self.keys.agent_views(sub.agent_id))
                else:
                    for p in range(self.keys.partitions):
                        pipe.hvals(self.keys.views(p))
                pipe.xrevrange(self.keys.outputs, "+", "-", count=1)
                *views, last = await pipe.execute()
                break
            except (RedisError, OSError):
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)
        else:
            return
        calls = sorted((json.loads(v) for vs in views for v in vs), key=lambda c: c["call_id"])
        for call in calls:
            for prompt in call.get("prompts", ()):
                self._remember_prompt(prompt["id"], call["call_id"], call.get("agent_id"))
        state: dict[str, Any] = {"kind": "state", "calls": calls}
        if sub.agent_id is not None:
            state = {"kind": "state", "agent_id": sub.agent_id, "calls": calls}
        sub.box.put(json.dumps(state, ensure_ascii=False), HIGH)
        sub.floor = parse_id(last[0][0]) if last else (0, 0)
        early, sub.early = sub.early, []
        for at, text, rank, stamp in early:
            sub.put(at, text, rank, stamp)

    # -- feedback -----------------------------------------------------------------------------------
    def feedback(self, who: Identity, box: Outbox, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Send a sidebar's feedback to the worker that owns the call; an error to answer at once,
        or None (the worker answers through the output stream)."""
        assert who.agent_id is not None
        try:
            fb = SidebarFeedback.model_validate(obj)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return {"kind": "error", "field": where, "expected": first["msg"], "got": str(first.get("input"))[:60],
                    "message": f"field '{where}': {first['msg']}"}
        owner = self.prompt_calls.get(fb.id)  # whose it is now (after a transfer), the worker checks
        if owner is None:
            return {"kind": "error", "field": "id", "expected": "a prompt id of one of your calls",
                    "got": fb.id[:60], "message": f"no prompt '{fb.id}' on a call of agent '{who.agent_id}'"}
        if not self.writer.up:
            return {"kind": "error", "field": "", "expected": "a reachable Redis", "got": "Redis unreachable",
                    "message": f"feedback not accepted: Redis is unreachable ({self.writer.failure})"}
        sub = self.by_box.get(box)
        call_id = owner[0]
        self.writer.add(self.keys.inbound(self.keys.partition(call_id)), feedback_entry(
            call_id, who.agent_id, sub.name if sub else "", json.dumps(obj, ensure_ascii=False)))
        return None

    def _remember_prompt(self, prompt_id: str, call_id: str, agent_id: str | None) -> None:
        self.prompt_calls[prompt_id] = (call_id, agent_id)
        if len(self.prompt_calls) > REMEMBER_PROMPTS:
            self.prompt_calls.popitem(last=False)

    # -- the output stream --------------------------------------------------------------------------
    async def follow(self) -> None:
        """Route every new entry of the output stream to this gateway's sockets, forever."""
        delay = 0.1
        while True:
            try:
                found: list[Any] = await self.client.xread(  # type: ignore[assignment]
                    {self.keys.outputs: self.last_id}, count=READ_COUNT, block=1000)
                delay = 0.1
            except (RedisError, OSError) as exc:
                log.warning(json.dumps({"event": "redis_unreachable", "error": str(exc), "retry_in_s": delay}))
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)
                continue
            for _, entries in found or ():
                for entry_id, fields in entries:
                    self.route(str(entry_id), fields)
                    self.last_id = str(entry_id)

    def route(self, entry_id: str, fields: dict[str, str]) -> None:
        at = parse_id(entry_id)
        text, agent_id = fields["m"], fields.get("a") or None
        rank = int(fields.get("r", "1"))
        if fields.get("p"):
            self._remember_prompt(fields["p"], fields.get("c", ""), agent_id)
        stamp = None
        if fields.get("w"):  # when Redis accepted the event that caused it, as perf_counter time
            stamp = time.perf_counter() - (time.time() - float(fields["w"]))
        if fields.get("to"):
            target = self.by_name.get(fields["to"])
            if target is not None:
                target.put(at, text, rank, None)
            return
        subs = self.agents.get(agent_id, ()) if agent_id is not None else ()
        for sub in subs:
            sub.put(at, text, rank, stamp)
        if fields.get("s"):
            for sub in self.supervisors:
                sub.put(at, text, rank, None)
        self.metrics.messages_out.inc(len(subs) + (len(self.supervisors) if fields.get("s") else 0))

    async def start_at_tail(self) -> None:
        last = await self.client.xrevrange(self.keys.outputs, "+", "-", count=1)
        self.last_id = str(last[0][0]) if last else "0-0"


class Gateway(AssistServer):
    """An AssistServer whose router is Redis: use as an async context manager, like AssistServer."""

    def __init__(self, config: ServerConfig, url: str, settings: ScaleSettings, static_dir: Path = STATIC_DIR,
                 name: str | None = None):
        self.edge(config, static_dir)
        self.settings = settings
        self.keys = Keys(settings.prefix, settings.partitions)
        self.redis_url = url
        self.client = connect(url)
        self.writer = StreamWriter(self.client)
        self.commits = self.writer
        self.name = name or f"gw-{uuid.uuid4().hex[:8]}"
        self.gateway = GatewayRouter(self.client, self.keys, self.writer, self.metrics,
                                     config.limits.queue_size, self.name)
        self.router = self.gateway
        self._follower: asyncio.Task[None] | None = None

    async def start(self) -> None:
        delay = 0.1
        while True:  # a gateway started before Redis waits for it (and says so)
            try:
                await check_partitions(self.client, self.keys)
                await self.gateway.start_at_tail()
                break
            except (RedisError, OSError) as exc:
                log.warning(json.dumps({"event": "redis_unreachable", "error": str(exc), "retry_in_s": delay}))
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)
        await self.start_serving()
        self._follower = asyncio.create_task(self.gateway.follow())

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        await self.stop_serving()
        await self.writer.close()
        await self.client.aclose()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path == "/ingest" and not self.writer.up:
            return respond(HTTPStatus.SERVICE_UNAVAILABLE, f"Redis unreachable ({self.writer.failure}): "
                           "no event can be accepted now; retry later\n")
        return super()._process_request(connection, request)

    def health(self) -> dict[str, Any]:
        problems = [] if self.writer.up else [f"redis: unreachable ({self.writer.failure})"]
        return {"status": "failing" if problems else "ok", "problems": problems, "redis": self.redis_url_safe,
                "connections": dict(self._counts), "uptime_s": round(time.monotonic() - self.started, 1)}

    @property
    def redis_url_safe(self) -> str:
        """The Redis address without a password."""
        head, at, tail = self.redis_url.rpartition("@")
        return f"{head.split('://')[0]}://…@{tail}" if at else self.redis_url

    async def reload_rules(self) -> dict[str, Any]:
        """Rules live in the workers: restart them one at a time (SIGTERM hands their partitions over)."""
        answer = {"kind": "rules", "ok": False, "version": None, "problems": [],
                  "message": "scale-out mode: the rules are the workers'; restart the workers one at a time "
                             "with the new --rules (SIGTERM hands their calls to the others)"}
        for sub in self.gateway.supervisors:
            sub.box.put(json.dumps(answer, ensure_ascii=False), HIGH)
        return answer

    async def _inbound(self, box: Outbox, who: Identity, message: str | bytes) -> None:
        try:
            obj = json.loads(message)
        except (ValueError, RecursionError):
            obj = None
        if who.role != "agent" or not isinstance(obj, dict) or obj.get("type") != "feedback":
            await super()._inbound(box, who, message)  # the same error frames as assist serve
            return
        error = self.gateway.feedback(who, box, obj)
        if error is not None:
            box.put(json.dumps(error, ensure_ascii=False), HIGH)
            return
        try:
            await self.writer.durable()
        except Exception as exc:
            box.put(json.dumps({"kind": "error", "field": "", "expected": "a reachable Redis",
                                "got": "a failed write", "message": f"feedback not accepted: {exc}"}), HIGH)
