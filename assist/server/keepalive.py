"""One keepalive for every websocket of the server, instead of websockets' task per connection.

websockets pings each connection from a task of its own (`ping_interval`, by default every 20 s) and
fails the connection with 1011 "keepalive ping timeout" when the pong has not come `ping_timeout` later:
that task, its coroutines, its sleep's future and timer live as long as the socket, about ten
objects the timed full garbage collection walks per open socket. Here the server runs its sockets with
`ping_interval=None` and this sweep does the same job for all of them from one task: each socket is
pinged every `interval_s`, and one whose pong has not come `timeout_s` after the ping is failed with
the same close (1011, "keepalive ping timeout"), so a dead sidebar is detected and closed as before.
The sockets are spread over `parts` groups, one group a step, so no step pings thousands at once.

A ping is the sans-I/O protocol's ping frame, written straight to the transport; its payload is
registered in the connection's `pending_pings` with an already-done future, so websockets' own pong
handling takes it off that list (and records the connection's latency) when the pong comes.
"""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.connection import Connection
from websockets.frames import CloseCode
from websockets.protocol import State

PING = b"assist-keepalive"
PARTS = 20


class Keepalive:
    """Start with `start()` in the running loop, `add` each connection when its handler starts, `discard`
    it when the handler ends, `stop()` at the end."""

    def __init__(self, interval_s: float, timeout_s: float, parts: int = PARTS):
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.parts = parts
        self._groups: list[dict[Connection, float]] = [{} for _ in range(parts)]  # connection → last ping sent
        self._task: asyncio.Task[None] | None = None
        self._failing: set[asyncio.Task[None]] = set()
        self._answered: asyncio.Future[float] | None = None

    def __len__(self) -> int:
        return sum(len(group) for group in self._groups)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._answered = loop.create_future()
        self._answered.set_result(0.0)  # websockets sets a pong's future only if it is not done yet
        self._task = loop.create_task(self._sweep_forever())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def add(self, connection: Connection) -> None:
        self._groups[hash(connection) % self.parts][connection] = connection.loop.time()  # first ping: in interval_s

    def discard(self, connection: Connection) -> None:
        self._groups[hash(connection) % self.parts].pop(connection, None)

    async def _sweep_forever(self) -> None:
        step = min(self.interval_s, self.timeout_s) / self.parts
        part = 0
        while True:
            await asyncio.sleep(step)
            self.sweep(part)
            part = (part + 1) % self.parts

    def sweep(self, part: int) -> None:
        """Ping the group's sockets that are due; fail those whose last ping went unanswered too long."""
        assert self._answered is not None, "start() first"
        group = self._groups[part]
        for connection, sent in list(group.items()):
            if connection.protocol.state is not State.OPEN:
                continue  # closing already: its handler ends and discards it
            now = connection.loop.time()
            if PING in connection.pending_pings:
                if now - sent >= self.timeout_s:
                    group.pop(connection, None)
                    task = connection.loop.create_task(self._fail(connection))
                    self._failing.add(task)
                    task.add_done_callback(self._failing.discard)
            elif now - sent >= self.interval_s:
                connection.pending_pings[PING] = (self._answered, now)
                connection.protocol.send_ping(PING)
                connection.transport.write(b"".join(connection.protocol.data_to_send()))
                group[connection] = now

    @staticmethod
    async def _fail(connection: Connection) -> None:
        """What websockets' own keepalive does on a timeout: fail the connection with 1011."""
        with contextlib.suppress(Exception):  # ConnectionClosed, once it is closed
            async with connection.send_context():
                connection.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
