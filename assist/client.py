"""`IngestClient`: the CTI side of /ingest, with the delivery guarantee kept from the client's end.

    async with IngestClient("ws://127.0.0.1:8765/ingest", token) as client:
        await client.send({"type": "call.start", "call_id": "c1", "agent_id": "a7", "lang": "en", "t_ms": 0})
        await client.send({"type": "utterance", "call_id": "c1", "speaker": "customer", "text": "…",
                           "start_ms": 0, "end_ms": 2000})
        await client.drain()            # every event sent so far is acknowledged (or refused)
    print(client.acked, client.errors)

`send` gives each event a `seq` (per call, unless it has one) and returns at once: events are pipelined,
never sent one-wait-one. The server answers every message in order; an event stays pending until its
answer comes. When the connection drops (a restart, a network fault) the client reconnects with
exponential backoff and resends every pending event in order: the server acknowledges the ones it
already has as duplicates, so nothing is lost and nothing is applied twice. An error answer is final
(the event is wrong, or the server is full); it is kept in `errors` and given to `on_reply`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import ssl
from collections import OrderedDict, deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from assist.errors import AssistError

log = logging.getLogger("assist.client")
Key = tuple[str, int]  # (call_id, seq)


class IngestRefused(AssistError):
    """The server refused the connection for good (a wrong token, a bad URL): retrying will not help."""


class IngestClient:
    """One /ingest connection that survives reconnects. Use as an async context manager."""

    def __init__(self, url: str, token: str, *, on_reply: Callable[[dict[str, Any], dict[str, Any]], None]
                 | None = None, backoff_s: tuple[float, float] = (0.1, 5.0), max_pending: int = 100_000,
                 ssl_context: ssl.SSLContext | None = None):
        self.url = url
        self.token = token
        self.on_reply = on_reply        # (reply, the event it answers)
        self.backoff_s = backoff_s      # first wait, longest wait between reconnect attempts
        self.ssl_context = ssl_context
        self.pending: OrderedDict[Key, dict[str, Any]] = OrderedDict()  # sent or not, not yet answered
        self.acked = 0
        self.duplicates = 0
        self.errors: list[dict[str, Any]] = []  # error answers, each with the event it refused under "event"
        self.reconnects = 0
        self._seqs: dict[str, itertools.count[int]] = {}
        self._room = asyncio.Semaphore(max_pending)
        self._unsent: deque[Key] = deque()     # pending events not yet sent on the current connection
        self._in_flight: deque[Key] = deque()  # sent on the current connection, answers due in this order
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self._settled.set()
        self._connected = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start connecting (in the background; `send` queues meanwhile) and wait for the first connection."""
        self._task = asyncio.create_task(self._run())
        waiter = asyncio.create_task(self._connected.wait())
        await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        self._raise_failure()

    async def close(self, drain: bool = True, timeout: float | None = None) -> None:
        """Wait for every pending answer (unless `drain` is False), then close normally."""
        if drain and self._task is not None and not self._task.done():
            await asyncio.wait_for(self.drain(), timeout)
        self._closing = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def __aenter__(self) -> IngestClient:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close(drain=et is None)

    # -- sending ----------------------------------------------------------------------------------
    async def send(self, event: dict[str, Any]) -> int:
        """Queue one native event (a seq is added when it has none); returns its seq. Waits only when
        `max_pending` events are unanswered."""
        self._raise_failure()
        call_id = str(event.get("call_id", ""))
        seq = event.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            seq = next(self._seqs.setdefault(call_id, itertools.count(1)))
            event = {**event, "seq": seq}
        key = (call_id, seq)
        await self._room.acquire()
        if key in self.pending:  # the same event queued twice: one answer will do for both
            self._room.release()
            return seq
        self.pending[key] = event
        self._unsent.append(key)
        self._settled.clear()
        self._wake.set()
        return seq

    async def drain(self) -> None:
        """Return once every event sent so far has its answer (across reconnects)."""
        while not self._settled.is_set():
            waiter = asyncio.create_task(self._settled.wait())
            assert self._task is not None
            await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    # -- the connection -----------------------------------------------------------------------------
    async def _run(self) -> None:
        wait = self.backoff_s[0]
        while not self._closing:
            try:
                async with connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"},
                                   ssl=self.ssl_context, open_timeout=10) as ws:
                    wait = self.backoff_s[0]
                    self._in_flight.clear()
                    self._unsent = deque(self.pending)  # everything not answered, in order
                    self._connected.set()
                    await self._session(ws)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (400, 401, 403, 404):
                    self._failure = IngestRefused(f"{self.url}: the server refused the connection: HTTP "
                                                  f"{status} {exc.response.body.decode(errors='replace').strip()}")
                    return
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                log.info(json.dumps({"event": "ingest_disconnected", "error": type(exc).__name__}))
            if self._closing:
                return
            self.reconnects += 1
            await asyncio.sleep(wait * (0.5 + random.random() / 2))  # jitter: a fleet does not return at once
            wait = min(wait * 2, self.backoff_s[1])

    async def _session(self, ws: ClientConnection) -> None:
        reader = asyncio.create_task(self._read(ws))
        try:
            while not self._closing:
                while self._unsent:
                    key = self._unsent.popleft()
                    event = self.pending.get(key)
                    if event is None:
                        continue
                    self._in_flight.append(key)
                    await ws.send(json.dumps(event, ensure_ascii=False))
                if reader.done():
                    reader.result()  # raises ConnectionClosed
                    return
                self._wake.clear()
                waker = asyncio.create_task(self._wake.wait())
                await asyncio.wait({waker, reader}, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()
            await ws.close()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await reader

    async def _read(self, ws: ClientConnection) -> None:
        async for message in ws:
            reply: dict[str, Any] = json.loads(message)
            if not self._in_flight:
                log.warning(json.dumps({"event": "unexpected_reply", "reply": reply}))
                continue
            key = self._in_flight.popleft()
            if isinstance(reply.get("seq"), int) and reply.get("call_id") is not None:
                answered = (str(reply["call_id"]), reply["seq"])
                if answered != key and answered in self.pending:  # out of order: trust what it names
                    self._in_flight.appendleft(key)
                    with contextlib.suppress(ValueError):
                        self._in_flight.remove(answered)
                    key = answered
            self._answered(key, reply)

    def _answered(self, key: Key, reply: dict[str, Any]) -> None:
        event = self.pending.pop(key, None)
        if event is None:
            return
        self._room.release()
        if reply.get("type") == "ack":
            self.acked += 1
            self.duplicates += bool(reply.get("duplicate"))
        else:
            self.errors.append({**reply, "event": event})
        if self.on_reply is not None:
            self.on_reply(reply, event)
        if not self.pending:
            self._settled.set()
