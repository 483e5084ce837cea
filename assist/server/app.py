"""The live server: one asyncio process, websockets for /ingest, /agent and /supervisor, plain HTTP
for the pages, /healthz and /metrics.

    async with AssistServer(ServerConfig(port=0, tokens=...)) as server:
        print(server.url("/", token))
        await server.serve_forever()

The engine is fed only from this event loop's thread; wall-clock ticks reach it as `tick` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import ssl
import time
import weakref
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.http11 import Request, Response

from assist.core.compiled import CompiledRules
from assist.errors import Problem
from assist.formats.live import LiveStream
from assist.server.calllog import CallLog, CallLogError, purge_file
from assist.server.config import ServerConfig
from assist.server.eventloop import loop_name
from assist.server.gctune import QuietGC, end_parser
from assist.server.groupcommit import GroupCommit
from assist.server.guard import ConnectionCaps, HostCheck, RateLimit
from assist.server.http import (
    STATIC_DIR,
    WS_PATHS,
    Gate,
    Identity,
    handshake_refusal,
    http_route,
    is_upgrade,
    page_with_ticket,
    respond,
)
from assist.server.hub import Hub
from assist.server.ingest import ingest_native, ingest_vendor
from assist.server.keepalive import Keepalive
from assist.server.metrics import Metrics
from assist.server.outbox import HIGH, Outbox
from assist.server.reload import PackVersions, reload_packs
from assist.server.router import Durability, Router
from assist.server.shutdown import Shutdown
from assist.server.sidebar import SocketWriter
from assist.server.vendor import VendorIngest, stream_for
from assist.server.webhook import SummaryWebhook
from assist.server.wire import socket_error

log = logging.getLogger("assist.server")
TICK_PARTS = 10  # ticks are spread over the interval in this many slices, so no burst stalls the loop
PURGE_EVERY_S = 3600.0


class AssistServer:
    """Owns the engine, the hub and the websockets server. Use as an async context manager."""

    def __init__(self, config: ServerConfig, rules: CompiledRules | None = None,
                 static_dir: Path = STATIC_DIR, rules_source: str | Path | None = None):
        if rules is None:
            from assist import load_rules

            rules = load_rules()
        self.edge(config, static_dir)
        self.engine = PackVersions(rules, max_calls=config.limits.max_calls)
        self.rules_source = rules_source  # where a reload reads the packs from (None: no reload)
        self.calllog = CallLog(config.log.path, sync=config.log.sync) if config.log.path else None
        self.commits: Durability | None = GroupCommit(self.calllog) if self.calllog is not None else None
        self.hub = Hub(self.engine, max_calls=config.limits.max_calls, queue_size=config.limits.queue_size,
                       metrics=self.metrics, calllog=self.calllog, outbox_bytes=config.limits.outbox_bytes)
        self.hub.rules_version = self.engine.version
        self.router: Router = self.hub
        self.recovered: dict[str, float] = {"calls": 0, "events": 0, "seconds": 0.0}
        self.webhook = (SummaryWebhook(config.summary_webhook, self.calllog)
                        if config.summary_webhook.url else None)
        if self.webhook is not None:
            self.hub.on_summary = self.webhook.call_ended

    def edge(self, config: ServerConfig, static_dir: Path) -> None:
        """The websocket edge's own state (also a gateway's, which has no engine)."""
        self.config = config
        self.metrics = Metrics()
        self.gate = Gate(config.tokens, config.allowed_origins)
        self.caps = ConnectionCaps(config.limits.connections_per_token)
        self.hosts = HostCheck(config.host, config.allowed_hosts)
        self.static_dir = static_dir
        self.started = time.monotonic()
        self.port = config.port
        self._who: weakref.WeakKeyDictionary[ServerConnection, Identity] = weakref.WeakKeyDictionary()
        self._vendor: weakref.WeakKeyDictionary[ServerConnection, LiveStream] = weakref.WeakKeyDictionary()
        self._counts = {"cti": 0, "agent": 0, "supervisor": 0}
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._purger: asyncio.Task[None] | None = None
        self._gc: QuietGC | None = None
        self.keepalive = Keepalive(config.limits.ping_interval_s, config.limits.ping_timeout_s)
        self.shutdown = Shutdown()         # the graceful stop (server/shutdown.py)

    # -- lifecycle ----------------------------------------------------------------------------------
    def recover(self) -> dict[str, float]:
        """Rebuild the calls that were open in the call log when the previous process stopped."""
        if self.calllog is None:
            return self.recovered
        started = time.perf_counter()
        calls = self.calllog.open_calls()
        events = sum(self.hub.restore(call) for call in calls)
        self.recovered = {"calls": len(calls), "events": events,
                          "seconds": round(time.perf_counter() - started, 3)}
        if calls:
            log.info("recovered", extra=self.recovered)
        return self.recovered

    async def start(self) -> None:
        self.recover()  # before the first connection: a reconnecting sidebar sees the rebuilt calls
        if self.webhook is not None:
            self.webhook.start()  # with what the log has not delivered yet
        await self.start_serving()
        self._ticker = asyncio.create_task(self._tick_forever())
        if self.config.log.path and self.config.log.retention_days:
            self._purger = asyncio.create_task(self._purge_forever(self.config.log.path,
                                                                   self.config.log.retention_days))

    async def start_serving(self) -> None:
        """Listen: websockets and the HTTP routes, TLS when configured."""
        ssl_context = None
        if self.config.certfile and self.config.keyfile:
            ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_context.load_cert_chain(self.config.certfile, self.config.keyfile)
        self._server = await serve(
            self._handle, self.config.host, self.config.port, process_request=self._process_request,
            max_size=self.config.limits.max_message_bytes, ssl=ssl_context, compression=None,
            server_header="assist",  # no software versions for a scanner to match
            ping_interval=None,  # one keepalive sweep for every socket (server/keepalive.py), not a task each
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.keepalive.start()
        if self.config.gc_full_every_s > 0:  # see gctune: no full GC pause in the middle of the traffic
            # freezing only on uvloop: asyncio's own socket transports hold a bound method of themselves (a
            # cycle each), which the frozen generation would keep after the socket closed (gctune.py)
            freeze = self.config.gc_freeze_every_s if loop_name() == "uvloop" else 0.0
            self._gc = QuietGC(self.config.gc_full_every_s, self.metrics.gc_pause.observe, freeze_every_s=freeze,
                              refresh_every_s=self.config.gc_refresh_every_s)
            self._gc.start()
        else:
            gc.freeze()  # rules and engine tables live forever: keep them out of every full collection
        log.info("listening", extra={"url": self.url("/"), "host": self.config.host, "port": self.port,
                                     "tls": ssl_context is not None, "call_log": self.config.log.path,
                                     "agent_tokens": len(self.config.tokens.agents)})

    async def stop(self) -> None:
        """Stop serving, gracefully: no new connections; every /ingest connection finishes the message in
        hand, its acks go out once the log holds them; sidebars get what is queued for them; every
        client gets close 1001 (going away). All of it within `stop_timeout_s`, then whatever is left
        is cut. Open calls stay open in the call log: the next start rebuilds them."""
        self.shutdown.stopping = True
        if self._server is not None:
            try:
                await asyncio.wait_for(self.shutdown.finish(self._server, self._outboxes), self.config.stop_timeout_s)
            except TimeoutError:
                log.warning("stop_timeout", extra={"after_s": self.config.stop_timeout_s})
        if self._gc is not None:
            self._gc.stop()
            self._gc = None
        self.keepalive.stop()
        for task in (self._ticker, self._purger):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self.webhook is not None:
            await self.webhook.stop()  # what is not delivered stays in the call log
        if self.calllog is not None:
            self.calllog.close()
        self.engine.close()

    async def stop_serving(self) -> None:
        """Close the listening socket and every connection at once (a gateway has nothing to flush)."""
        self.shutdown.stopping = True
        if self._gc is not None:
            self._gc.stop()
            self._gc = None
        self.keepalive.stop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _outboxes(self) -> list[Outbox]:
        return [b for group in self.hub.agents.values() for b in group] + list(self.hub.supervisors)

    async def reload_rules(self) -> dict[str, Any]:
        """Reload the packs from `rules_source` (server/reload.py); supervisors are told the version in use."""
        if self.rules_source is None:
            return {"kind": "rules", "ok": False, "version": self.engine.version, "problems": [],
                    "message": "this server was started without a rules directory: nothing to reload"}
        answer = await reload_packs(self.engine, self.rules_source)
        self.hub.rules_version = self.engine.version
        text = json.dumps(answer, ensure_ascii=False)
        for box in self.hub.supervisors:
            box.put(text, HIGH)
        return answer

    async def serve_forever(self) -> None:
        assert self._server is not None, "start() first"
        await self._server.serve_forever()

    async def __aenter__(self) -> AssistServer:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def url(self, path: str = "/", token: str | None = None, scheme: str | None = None) -> str:
        """The address of `path` on this server, with `?token=` when given."""
        tls = self.config.certfile is not None
        scheme = scheme or ("https" if tls else "http")
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        query = f"?token={quote(token, safe='')}" if token else ""
        return f"{scheme}://{host}:{self.port}{path}{query}"

    def health(self) -> dict[str, Any]:
        """`status` is "ok", or "failing" with the `problems` (then /healthz answers 503)."""
        problems = []
        if self.commits is not None and self.commits.failure is not None:
            problems.append(f"call log: the last transaction failed ({self.commits.failure})")
        return {"status": "failing" if problems else "ok", "problems": problems, "open_calls": len(self.hub.calls),
                "connections": dict(self._counts), "uptime_s": round(time.monotonic() - self.started, 1),
                "rules": self.engine.in_use()}

    # -- clock --------------------------------------------------------------------------------------
    async def _tick_forever(self) -> None:
        part = 0
        step = self.config.tick_interval_s / TICK_PARTS
        while True:
            await asyncio.sleep(step)
            try:
                self.hub.tick(self.config.idle_timeout_s, part, TICK_PARTS)
            except Exception:  # a failing tick must not stop the clock for every other call
                log.exception("tick_failed")
            part = (part + 1) % TICK_PARTS

    @staticmethod
    async def _purge_forever(path: str, days: float) -> None:
        while True:
            try:
                gone = await asyncio.to_thread(purge_file, path, days)
            except Exception:  # retention must never take the server down
                log.exception("purge_failed")
            else:
                if gone:
                    log.info("purged", extra={"calls": gone, "older_than_days": days})
            await asyncio.sleep(PURGE_EVERY_S)

    # -- handshake ----------------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        refused = handshake_refusal(request, self.hosts)
        if refused is not None:
            return refused
        path = urlsplit(request.path).path
        if path not in WS_PATHS or not is_upgrade(request):
            return page_with_ticket(request, self.gate, self.config.certfile is not None) or http_route(
                request, self.health, self.metrics.render, self.static_dir, may_monitor=self.gate.monitor_ok)
        who = self.gate.identify(request)
        if isinstance(who, HTTPStatus):
            text = "missing token\n" if who == HTTPStatus.UNAUTHORIZED else "invalid token\n"
            return respond(who, text, extra={"WWW-Authenticate": "Bearer"})
        if who.role != {"/ingest": "cti", "/agent": "agent", "/supervisor": "supervisor"}[path]:
            return respond(HTTPStatus.FORBIDDEN, f"this token does not open {path}\n")
        if not self.gate.origin_ok(request):
            return respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        if self.caps.full((who.role, who.agent_id)):
            return respond(HTTPStatus.TOO_MANY_REQUESTS, f"at most {self.caps.per_identity} connections per "
                           "token are open already\n")
        if path == "/ingest":
            stream = stream_for(request.path)
            if isinstance(stream, tuple):
                return respond(*stream)
            if stream is not None:
                self._vendor[connection] = stream
        self._who[connection] = who
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        who = self._who.pop(connection)
        # the handshake's headers (a list per header: some twenty objects) are not read once the socket
        # is open, and the timed full collection would walk them for every open socket
        if connection.request is not None:
            connection.request.headers.clear()
        connection.response = None
        self.keepalive.add(connection)
        self.caps.take((who.role, who.agent_id))
        self._counts[who.role] += 1
        self.metrics.connections.labels(who.role).inc()
        log.info("connected", extra={"role": who.role, "agent_id": who.agent_id})
        try:
            stream = self._vendor.pop(connection, None)
            if who.role == "cti":
                self.shutdown.ingesting()
            if stream is not None:
                await ingest_vendor(connection, VendorIngest(stream, self.router.ingest), self.commits,
                                    self.shutdown, self.config.limits)
            elif who.role == "cti":
                await ingest_native(connection, self.router, self.commits, self.shutdown, self.config.limits)
            else:
                await self._subscriber(connection, who)
        except ConnectionClosed:
            pass
        finally:
            self.keepalive.discard(connection)
            if self._gc is not None:
                self._gc.closed(connection)  # its objects may have been frozen: see server/gctune.py
            connection.connection_lost_waiter.add_done_callback(functools.partial(end_parser, connection.protocol))
            self.caps.give((who.role, who.agent_id))
            self._counts[who.role] -= 1
            self.metrics.connections.labels(who.role).dec()
            log.info("disconnected", extra={"role": who.role, "agent_id": who.agent_id,
                                            "code": connection.close_code})

    # -- /agent and /supervisor ---------------------------------------------------------------------
    async def _subscriber(self, connection: ServerConnection, who: Identity) -> None:
        box = self.router.new_outbox()
        if who.role == "agent":
            assert who.agent_id is not None
            self.router.join_agent(who.agent_id, box)
        else:
            self.router.join_supervisor(box)
        writer = SocketWriter(box, connection)  # no task: the outbox wakes it (server/sidebar.py)
        rate = self.config.limits.agent_messages_per_s
        limit = RateLimit(rate)  # 3,000 ratings in a burst were 3,000 counts and 6,000 call-log rows
        told = False  # one error per burst, so the errors cannot flood the outbox in turn
        try:
            while True:
                try:
                    message = await connection.recv()
                except ConnectionClosedOK:
                    return
                if not limit.take():
                    if not told:
                        box.put(json.dumps(socket_error(Problem(
                            "", f"over {rate:g} messages/s on this socket: messages ignored until the rate drops",
                            "", f"at most {rate:g} messages/s", "more"))), HIGH)
                    told = True
                    continue
                told = False
                await self._inbound(box, who, message)
        finally:
            writer.close()
            self.router.leave(box, who.agent_id)

    async def _inbound(self, box: Outbox, who: Identity, message: str | bytes) -> None:
        try:
            obj = json.loads(message)
        except (ValueError, RecursionError):  # hostile JSON is answered like any other wrong message
            obj = None
        if who.role == "supervisor" and isinstance(obj, dict) and obj.get("type") == "reload_rules":
            await self.reload_rules()  # the answer goes to every supervisor
            return
        if who.role != "agent" or not isinstance(obj, dict) or obj.get("type") != "feedback":
            agent = who.role == "agent"
            err = socket_error(Problem(
                "", 'expected {"type":"feedback","id":...,"action":...}' if agent
                else 'the supervisor socket takes only {"type":"reload_rules"}', "type",
                "a feedback object" if agent else '{"type":"reload_rules"}', str(message)[:60]))
            box.put(json.dumps(err, ensure_ascii=False), HIGH)
            return
        assert who.agent_id is not None
        reply, broadcast = self.hub.take_feedback(who.agent_id, obj)
        if self.commits is not None:
            try:
                await self.commits.durable()  # the answer promises the feedback is in the call log
            except CallLogError as exc:
                box.put(json.dumps(socket_error(Problem("", f"feedback not logged: {exc}", "", "a working call log",
                                                        "a failed write"))), HIGH)
                return
        if broadcast:
            self.hub.deliver_feedback(who.agent_id, reply)
        else:
            box.put(json.dumps(reply, ensure_ascii=False), HIGH)
