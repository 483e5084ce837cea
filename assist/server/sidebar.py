"""Delivering a sidebar's (or a supervisor's) Outbox to its websocket without a task of its own.

A socket used to have a pump task waiting on its outbox: a Task, its context, three coroutines, an
Event and the futures between them, all living as long as the socket - about a dozen objects the
timed full garbage collection walks for every open sidebar (5,000 of them at 5,000 calls). Now the
outbox wakes its `SocketWriter` when something is queued; the writer writes on the next turn of the
loop, so what is queued together still leaves together (one socket write), in order, and a slow
socket still holds no one up: while its write buffer is over its limit (websockets pauses the
connection), a task of its own waits for it to drain - only a slow socket has one - and meanwhile
its bounded outbox drops the least important messages as before.

Each message is its own text frame, framed by the connection's sans-I/O protocol exactly as
`Connection.send` would; the frames ready together go out in one `transport.write`.
"""

from __future__ import annotations

import asyncio
import json
import logging

from websockets.asyncio.connection import Connection
from websockets.protocol import State

from assist.server.outbox import Outbox

log = logging.getLogger("assist.server")


class SocketWriter:
    """Writes what `box` queues to `connection`; `close()` when the socket's handler ends."""

    __slots__ = ("_scheduled", "_waiting", "box", "connection")

    def __init__(self, box: Outbox, connection: Connection):
        self.box = box
        self.connection = connection
        self._scheduled = False
        self._waiting: asyncio.Task[None] | None = None  # a drain (slow socket) or a close after a failure
        box.watch(self.wake)

    def wake(self) -> None:
        """Something was queued: write it on the loop's next turn (with whatever joins it meanwhile)."""
        if not self._scheduled and self._waiting is None:
            self._scheduled = True
            self.connection.loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._waiting is not None:
            return
        connection = self.connection
        protocol = connection.protocol
        try:
            while self.box.pending():
                if protocol.state is not State.OPEN:
                    return  # closing: the handler's read ends; what is queued goes with the outbox
                if connection.paused:  # the peer reads slower than we write: wait for the buffer to drain
                    self._waiting = connection.loop.create_task(self._drained())
                    return
                texts, stamps = self.box.take()
                for text in texts:
                    protocol.send_text(text.encode())
                connection.transport.write(b"".join(protocol.data_to_send()))  # an OPEN protocol sends no EOF
                self.box.sent(stamps)
        except Exception:  # a message that cannot be sent closes this socket, never the server
            log.exception(json.dumps({"event": "send_failed"}))
            self._waiting = connection.loop.create_task(connection.close(1011, "internal error sending a message"))

    async def _drained(self) -> None:
        try:
            await self.connection.drain()
        except Exception:  # the connection is gone: its handler ends and closes this writer
            return
        self._waiting = None
        self.flush()

    def close(self) -> None:
        """Stop writing (the socket's handler is ending)."""
        self.box.watch(None)
        if self._waiting is not None and not self._waiting.done():
            self._waiting.cancel()
