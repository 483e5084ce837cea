"""Writing to the server's websockets: each message its own text frame, as the protocol says, but the
frames of one socket that are ready together leave in one socket write.

websockets' `Connection.send` writes every message to the socket by itself: one system call, and one
wake-up of the reader, per message. Under load a sidebar's outbox often holds two or three messages
when it gets its turn, and an /ingest connection several acks; on the live bench those writes were a
fifth of the server's CPU. `send_texts` frames each message through the connection's sans-I/O
protocol exactly as `send` would and hands the frames to the transport at once: the peer receives
the same frames, in the same order.

`send_acks` is the /ingest connection's ack writer: acks go out in order, each once the call log
holds its event (`Durability`), and those ready together are written together.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from assist.server.calllog import CallLogError
from assist.server.router import Durability
from assist.server.wire import to_text

log = logging.getLogger("assist.server")
FRAMES_PER_WRITE = 256  # a backlog of acks goes out in writes of this many frames, with flow control between


async def send_texts(connection: Connection, texts: Sequence[str]) -> None:
    """Send each of `texts` as a text message of its own, in one socket write; wait while the socket's
    write buffer is over its limit. Raises ConnectionClosed like `Connection.send` once it is closing."""
    if not texts:
        return
    protocol = connection.protocol
    if protocol.state is not State.OPEN:  # closing or closed: websockets' own send raises as it should
        for text in texts:
            await connection.send(text)
        return
    for text in texts:
        protocol.send_text(text.encode())
    connection.transport.write(b"".join(protocol.data_to_send()))  # an OPEN protocol has no EOF to send
    await connection.drain()


Acks = asyncio.Queue[tuple[int, list[dict[str, Any]]] | None]


async def send_acks(connection: Connection, acks: Acks, commits: Durability | None) -> None:
    """Send the replies queued on `acks` (a mark in the call log, and the replies of one message) until
    a None: each batch once the log holds everything up to its mark. Without the log the client resends
    after reconnecting, so a failed write closes the connection (1011) without those acks. Consumes the
    queue to the end, so a put never blocks for good."""
    broken = False
    while True:
        items = [await acks.get()]
        while not acks.empty() and items[-1] is not None:  # everything queued meanwhile goes in the same write
            items.append(acks.get_nowait())
        texts: list[str] = []
        for item in items:
            if item is None or broken:
                continue
            mark, replies = item
            if commits is not None:
                try:
                    await commits.durable(mark)  # an ack promises the event is in the call log
                except CallLogError as exc:
                    log.exception("calllog_write_failed")
                    broken = True
                    await _flush(connection, texts)  # what was logged before is acked
                    await connection.close(1011, f"call log write failed: {exc}"[:120])
                    continue
            texts.extend(to_text(reply) for reply in replies)
        if not broken:
            broken = not await _flush(connection, texts)
        if items[-1] is None:
            return


async def _flush(connection: Connection, texts: list[str]) -> bool:
    """Send `texts`, FRAMES_PER_WRITE at a time; False once the connection is gone or failed."""
    try:
        for start in range(0, len(texts), FRAMES_PER_WRITE):
            await send_texts(connection, texts[start:start + FRAMES_PER_WRITE])
    except ConnectionClosed:
        return False
    except Exception:  # a reply that cannot be sent: this connection fails, loudly, alone
        log.exception(json.dumps({"event": "ack_send_failed"}))
        await connection.close(1011, "internal error sending a reply")
        return False
    finally:
        texts.clear()
    return True
