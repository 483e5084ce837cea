"""The graceful stop of the live server (SIGTERM / SIGINT, or `AssistServer.stop()`).

No new connections; every /ingest connection finishes the message in hand and its acks go out once the
call log holds them (what it had not read yet is not acked, so the client resends it); sidebars get
what is queued for them (1 s at most); every client gets close 1001 (going away). The server bounds all
of it with `stop_timeout_s`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable

from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosedOK

from assist.server.outbox import Outbox

DRAIN_STEPS, DRAIN_STEP_S = 100, 0.01  # sidebars' queues get at most 1 s


class Shutdown:
    """Tracks the /ingest handlers so a stop can interrupt them between messages, never inside one."""

    def __init__(self) -> None:
        self.stopping = False
        self._receiving: set[asyncio.Task[object]] = set()  # /ingest handlers waiting for their next message
        self._ingesting: set[asyncio.Task[object]] = set()  # every /ingest handler

    def ingesting(self) -> None:
        """Call at the start of an /ingest handler."""
        task = asyncio.current_task()
        if task is not None:
            self._ingesting.add(task)
            task.add_done_callback(self._ingesting.discard)

    async def messages(self, connection: ServerConnection) -> AsyncIterator[str | bytes]:
        """An /ingest connection's messages until it closes, or until the server stops taking events."""
        task = asyncio.current_task()
        assert task is not None
        while not self.stopping:
            self._receiving.add(task)
            try:
                message = await connection.recv()
            except ConnectionClosedOK:
                return
            except asyncio.CancelledError:
                if self.stopping and task.uncancel() == 0:
                    return  # the graceful stop: what was not read is not acked, so the client resends it
                raise
            finally:
                self._receiving.discard(task)
            yield message

    async def going_away(self, connection: ServerConnection) -> None:
        """At the end of an /ingest handler, once its acks are out: close 1001 if the server is stopping."""
        if self.stopping:
            await connection.close(1001, "server shutting down")

    async def finish(self, server: Server, outboxes: Callable[[], Iterable[Outbox]]) -> None:
        """Stop taking events, let /ingest handlers flush their acks, drain the sidebars, close 1001."""
        self.stopping = True
        server.server.close()  # no new connections
        for task in list(self._receiving):  # waiting in recv: the next message stays unread (not acked)
            task.cancel()
        if self._ingesting:
            await asyncio.wait(set(self._ingesting))  # each flushes its acks, then closes with 1001
        for _ in range(DRAIN_STEPS):  # what the last events raised reaches the sidebars
            if all(len(box) == 0 for box in outboxes()):
                break
            await asyncio.sleep(DRAIN_STEP_S)
        server.close()  # close 1001 to every other connection, and wait for their handlers
        await server.wait_closed()
