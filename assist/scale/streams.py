"""The gateway's two Redis streams of work: appending inbound entries (acks wait for it) and following
the output stream (routed to this gateway's sockets).

    writer = StreamWriter(client)
    writer.add("assist:in:3", {...})      # buffered; one pipeline per event-loop turn, in order
    await writer.durable(writer.mark())   # Redis accepted everything added before the mark
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from assist.server.calllog import CallLogError

log = logging.getLogger("assist.gateway")
PROBE_S = 0.5


class StreamWriter:
    """Appends entries to the partition streams in the order they were added, one pipeline at a time
    (so one call's events reach its stream in order), and tells the acks when Redis has them.

    While Redis is unreachable `up` is False and `failure` says why; writes fail at once (their acks
    close the connection, so the client resends) until a probe, every PROBE_S, finds Redis again."""

    def __init__(self, client: aioredis.Redis):
        self.client = client
        self.failure: str | None = None
        self._buffer: list[tuple[str, dict[str, str]]] = []
        self._added = 0      # entries ever added
        self._written = 0    # entries whose pipeline finished (written, or failed: see _failed)
        self._failed: deque[tuple[int, int]] = deque(maxlen=1000)  # (first, last] of failed pipelines
        self._writing: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        return self.failure is None

    def add(self, stream: str, fields: dict[str, str]) -> None:
        self._buffer.append((stream, fields))
        self._added += 1
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write())

    def mark(self) -> int:
        return self._added

    async def durable(self, mark: int | None = None) -> None:
        """Return once the entries added before `mark` are in Redis; raise CallLogError if the
        pipeline that carried the last of them failed (one message's entries go in one pipeline)."""
        mine = self._added if mark is None else mark
        while self._written < mine and self._writing is not None:
            await asyncio.shield(self._writing)
        if any(first < mine <= last for first, last in self._failed):
            raise CallLogError(f"redis: not written ({self.failure or 'write failed'})")

    async def _write(self) -> None:
        await asyncio.sleep(0)  # let this turn's messages join the pipeline
        try:
            while self._buffer:
                batch, self._buffer = self._buffer, []
                pipe = self.client.pipeline(transaction=False)
                for stream, fields in batch:
                    pipe.xadd(stream, fields)  # type: ignore[arg-type]
                first = self._written
                try:
                    if self.failure is not None:  # known down: fail at once, the probe watches for its return
                        raise OSError(self.failure)
                    await pipe.execute()
                except (RedisError, OSError) as exc:
                    self._written += len(batch)
                    self._fail(exc, first, self._written)
                else:
                    self._written += len(batch)
        finally:
            self._writing = None

    def _fail(self, exc: BaseException, first: int, last: int) -> None:
        if self.failure is None:
            log.warning(json.dumps({"event": "redis_unreachable", "error": str(exc)}))
        self.failure = f"{type(exc).__name__}: {exc}"
        self._failed.append((first, last))
        if self._probe is None:
            self._probe = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        try:
            while True:
                await asyncio.sleep(PROBE_S)
                with contextlib.suppress(RedisError, OSError):
                    if await self.client.ping():
                        log.info(json.dumps({"event": "redis_reachable"}))
                        self.failure = None
                        return
        finally:
            self._probe = None

    async def close(self) -> None:
        for task in (self._writing, self._probe):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
