"""A native /ingest connection applied straight from the socket.

websockets' asyncio connection hands each data frame to its message assembler, and the handler's
`recv()` wakes up for it: a future, a task step, the assembler's queue and flow control, an async
iterator, per message. Under the live bench that path cost ~22 µs of the server's CPU per message
above a bare asyncio protocol, at 3,500 messages a second a tenth of the server at 5,000 calls.

Here a native /ingest connection (`EdgeConnection`) gives its data frames to its `CtiLink` as
websockets' Sans-I/O protocol parses them in `data_received`. Hostile input is still parsed and refused
by websockets (framing, masking, sizes, fragmentation order, control frames, the close handshake); only
the step from a parsed frame to our code is shorter. The link applies each message there and then
(`apply_message`: the same answers, one per event, in order), unless

- the connection's slice of work is used up (`IngestBudget`): the rest waits for a later loop turn,
  so one connection never holds the loop for long;
- `acks_in_flight` messages wait for their acks (the call log's commit, or a client that does not read
  its answers);

and while it cannot apply, it does not read: a CTI that sends faster than we apply is slowed by TCP,
never buffered without bound. Acks go out in order, each once the call log holds its event (`send_acks`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.messages import MAX_FRAGMENTS
from websockets.asyncio.server import ServerConnection
from websockets.frames import DATA_OPCODES, CloseCode, Frame, Opcode
from websockets.protocol import Event

from assist.core.events import json_problem
from assist.errors import Problem
from assist.server.guard import IngestBudget
from assist.server.router import Router
from assist.server.sending import AckQueue
from assist.server.vendor import is_native
from assist.server.wire import ingest_error

log = logging.getLogger("assist.server")
Reply = dict[str, Any]
Apply = Callable[[str | bytes, float], Coroutine[Any, Any, list[Reply]]]


async def apply_message(router: Router, message: str | bytes, stamp: float,
                        budget: IngestBudget) -> list[Reply]:
    """Apply one /ingest message (an event or a batch); its replies, one per event, in order. A big
    batch is applied in slices of the connection's byte budget: at the end of a slice this yields
    (`asyncio.sleep(0)`), and the link goes on with it in a later loop turn."""
    try:
        obj = json.loads(message)
    except (ValueError, RecursionError) as exc:  # also too deep, or an integer over 4,300 digits
        return [ingest_error(Problem("", f"expected a JSON object or array of objects, got {json_problem(exc)}",
                                     "", "a JSON object or array of objects", "invalid JSON"),
                             code="invalid_json", index=None)]
    batch = isinstance(obj, list)
    items = obj if batch else [obj]
    raw = message if isinstance(message, str) and not batch else None  # logged as it came
    share = len(message) // max(1, len(items)) + 1  # each event's part of the message's bytes
    replies: list[Reply] = []
    for i, item in enumerate(items):
        if budget.admit():
            reply = router.ingest(item, stamp, raw)
        else:
            rate = budget.ceiling.rate if budget.ceiling is not None else 0.0
            over = Problem("", f"over the limit of {rate:g} events/s per connection: event not applied", "",
                           f"at most {rate:g} events/s on one connection", "more")
            seq, call_id = (item.get("seq"), item.get("call_id")) if isinstance(item, dict) else (None, None)
            reply = ingest_error(over, code="rate_limited", seq=seq, call_id=call_id)
        if reply["type"] == "error":
            reply["index"] = i if batch else None
        replies.append(reply)
        if budget.spend(share):
            await asyncio.sleep(0)  # healthz, ticks, commits and other connections run here
    return replies


class CtiLink:
    """The messages of one native /ingest connection, applied as they arrive (see the module doc).

    Until `start` it only holds what comes; `finished` is done once the connection is gone and every
    message read was applied, or the client went over the abuse ceiling (`abusive`), or `stop`."""

    def __init__(self, connection: EdgeConnection) -> None:
        self.connection = connection
        self.loop = connection.loop
        self.held: deque[str | bytes] = deque()  # messages read, not applied yet
        self._parts: list[bytes] = []            # frames of a fragmented message so far
        self._text = True
        self._apply: Apply | None = None
        self._acks: AckQueue | None = None
        self._mark: Callable[[], int] = lambda: 0
        self._budget: IngestBudget | None = None
        self._current: Coroutine[Any, Any, list[Reply]] | None = None  # the message in hand, mid-way
        self._later = False      # a later loop turn goes on with the work
        self._paused = False     # we paused the transport's reading
        self._gone = False       # the connection is lost
        self._stopped = False    # apply nothing more (the server stops, or the client is abusive)
        self.abusive = False
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self._idle: asyncio.Future[None] | None = None  # waits for the message in hand (stop)

    # -- from the connection ----------------------------------------------------------------------
    def frame(self, frame: Frame) -> None:
        """A data frame, as websockets parsed it; a whole message is applied (or held)."""
        if self._stopped:
            return  # not applied, so not acked: the client sends it again
        if frame.opcode is not Opcode.CONT:
            self._text = frame.opcode is Opcode.TEXT
        if not frame.fin or self._parts:
            self._parts.append(bytes(frame.data))
            if len(self._parts) > MAX_FRAGMENTS:  # what websockets' assembler refuses too
                self._fail(CloseCode.MESSAGE_TOO_BIG, "too many fragments")
                return
            if not frame.fin:
                return
            data = b"".join(self._parts)
            self._parts = []
        else:
            data = bytes(frame.data)
        message: str | bytes = data
        if self._text:
            try:
                message = data.decode()
            except UnicodeDecodeError as exc:  # as websockets' recv() answers it: 1007
                self._fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
                return
        self.held.append(message)
        if not self._later:
            self._run()

    def lost(self) -> None:
        """The connection is gone: what was read is still applied (as recv() would have returned it)."""
        self._gone = True
        self._parts = []
        self._settle()

    def _halt(self) -> None:
        self._stopped = True
        self.held.clear()

    def _fail(self, code: CloseCode, reason: str) -> None:
        self._halt()
        self.connection.protocol.fail(code, reason)
        self.connection.send_data()

    # -- from the handler -------------------------------------------------------------------------
    def start(self, apply: Apply, acks: AckQueue, mark: Callable[[], int], budget: IngestBudget) -> None:
        """Apply messages with `apply`, queue their replies on `acks` with the log position `mark()`."""
        self._apply, self._acks, self._mark, self._budget = apply, acks, mark, budget
        self._run()

    def stop(self) -> asyncio.Future[None]:
        """Apply nothing more; what was read and not applied is not acked (the client resends it).
        Returns a future done once the message in hand, if any, is applied and queued."""
        self._halt()
        idle = self.loop.create_future()
        if self._current is None:
            idle.set_result(None)
        else:
            self._idle = idle
        self._settle()
        return idle

    def release(self) -> None:
        """The connection is lost and its handler has ended: let go of the ack queue (it calls back into
        the link) and of the connection's way to the link, cycles a frozen generation would keep
        (server/gctune.py), so the link and its connection are freed by their reference counts."""
        self._apply = self._acks = None
        if self.connection.link is self:
            self.connection.link = None

    def acks_taken(self) -> None:
        """The ack writer took replies off the queue: room to apply again (in a turn of its own)."""
        if self.held and not self._later and self._current is None and not self._stopped:
            self._later = True
            self.loop.call_soon(self._run)

    # -- the work ---------------------------------------------------------------------------------
    def _run(self) -> None:
        self._later = False
        apply, acks = self._apply, self._acks
        if apply is None or acks is None:
            return  # not started: held
        try:
            while True:
                if self._current is None:
                    if self._stopped or not self.held or acks.full():
                        break
                    self._current = apply(self.held.popleft(), time.perf_counter())
                try:
                    self._current.send(None)
                except StopIteration as done:
                    self._current = None
                    acks.put_nowait((self._mark(), done.value))
                    assert self._budget is not None
                    if self._budget.abusive():
                        self.abusive = True
                        self._halt()
                    continue
                self._later = True  # its slice is used up: everyone else first
                self.loop.call_soon(self._run)
                break
        except Exception as exc:  # a bug: this connection fails (1011 from the handler), never the server
            self._current = None
            self._stopped = True
            if not self.finished.done():
                self.finished.set_exception(exc)
        self._flow()
        self._settle()

    def _flow(self) -> None:
        """Read while there is nothing waiting to be applied; pause the transport otherwise."""
        waiting = self._later or (bool(self.held) and not self._stopped)
        if waiting and not self._paused and not self._gone:
            self._paused = True
            self.connection.transport.pause_reading()
        elif not waiting and self._paused:
            self._paused = False
            if not self._gone:
                self.connection.transport.resume_reading()

    def _settle(self) -> None:
        if self._current is not None:
            return
        if self._idle is not None and not self._idle.done():
            self._idle.set_result(None)
        if self.finished.done():
            return
        if self._stopped or (self._gone and not self.held and not self._parts):
            self.finished.set_result(None)


class EdgeConnection(ServerConnection):
    """websockets' server connection; a native /ingest connection (known from its request, before any
    frame is processed) gives its data frames to its `link` instead of the message assembler."""

    link: CtiLink | None = None

    def process_event(self, event: Event) -> None:
        link = self.link
        if link is not None and isinstance(event, Frame) and event.opcode in DATA_OPCODES:
            link.frame(event)
            return
        first = self.request is None
        super().process_event(event)
        if first and self.request is not None and urlsplit(self.request.path).path == "/ingest" \
                and is_native(self.request.path):
            self.link = CtiLink(self)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.link is not None:
            self.link.lost()
