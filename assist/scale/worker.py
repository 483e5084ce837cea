"""`assist worker`: leases partitions, reads their streams, runs the engine, publishes what it causes.

    worker = Worker(redis_url, rules, ScaleSettings())
    await worker.run()            # until stop(); a SIGKILLed worker's partitions move on by themselves

Per batch of entries of one partition, every write (outputs, views, call log, checkpoint, trim) goes
in one Lua script that first checks the lease is still ours: a worker that lost its lease (paused,
cut off) can never publish after the new owner took over, and a partition's outputs are published
exactly once, up to its checkpoint. A worker that takes a partition over replays the stream of the
calls open at the checkpoint without publishing, then goes on from the checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from assist.core.compiled import CompiledRules
from assist.core.engine import Engine
from assist.scale.keys import Keys
from assist.scale.lease import RELEASE, RENEW, live, plan, rotation, share
from assist.scale.partition import Owned, Partitions, entry_fields
from assist.scale.settings import ScaleSettings, check_partitions, connect

log = logging.getLogger("assist.worker")
DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
READ_COUNT = 512  # entries per read, over all owned partitions: a turn stays well under a lease

# KEYS[1] lease, KEYS[2] checkpoint, KEYS[3] output stream
# ARGV[1] worker id, ARGV[2] new checkpoint, ARGV[3] output stream max length, ARGV[4..] writes
COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('GET', KEYS[2]) == ARGV[2] then return 2 end
local i = 4
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'X' then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'c', ARGV[i+1], 'a', ARGV[i+2], 'm', ARGV[i+3],
               'r', ARGV[i+4], 'to', ARGV[i+5], 's', ARGV[i+6], 'p', ARGV[i+7], 'w', ARGV[i+8])
    i = i + 9
  elseif op == 'H' then redis.call('HSET', ARGV[i+1], ARGV[i+2], ARGV[i+3]); i = i + 4
  elseif op == 'D' then redis.call('HDEL', ARGV[i+1], ARGV[i+2]); i = i + 3
  elseif op == 'L' then redis.call('RPUSH', ARGV[i+1], ARGV[i+2]); i = i + 3
  elseif op == 'Z' then redis.call('DEL', ARGV[i+1]); i = i + 2
  elseif op == 'E' then redis.call('EXPIRE', ARGV[i+1], ARGV[i+2]); i = i + 3
  elseif op == 'T' then redis.call('XTRIM', ARGV[i+1], 'MINID', ARGV[i+2]); i = i + 3
  else return redis.error_reply('unknown write ' .. tostring(op)) end
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Owns a share of the partitions through leases and runs the engine for their calls."""

    def __init__(self, url: str, rules: CompiledRules, settings: ScaleSettings, *, max_calls: int = 1800,
                 idle_timeout_s: float = 300.0, tick_interval_s: float = 1.0, name: str | None = None):
        self.url = url
        self.settings = settings
        self.keys = Keys(settings.prefix, settings.partitions)
        self.name = name or worker_name()
        self.engine = Engine(rules, max_calls=max_calls)
        self.partitions = Partitions(self.engine, self.keys, max_calls=max_calls, idle_timeout_s=idle_timeout_s,
                                     retention_s=settings.retention_s)
        self.tick_interval_s = tick_interval_s
        self.owned: dict[int, Owned] = {}
        self.redis: aioredis.Redis = connect(url)
        self._reader: aioredis.Redis = connect(url)  # blocking reads on their own connection
        self._turn = asyncio.Lock()  # applying a batch, and changing what we own, never interleave
        self._unsent: dict[int, tuple[Owned, str, list[str | int | float]]] = {}
        self._commit = self.redis.register_script(COMMIT)
        self._renew_sha = self.redis.register_script(RENEW).sha
        self._release = self.redis.register_script(RELEASE)
        self._stopping = asyncio.Event()
        self.takeovers: list[dict[str, Any]] = []

    # -- lifecycle ----------------------------------------------------------------------------------
    async def run(self) -> None:
        await self._until_up(lambda: check_partitions(self.redis, self.keys))
        await self._until_up(lambda: self.redis.script_load(COMMIT))
        await self._until_up(lambda: self.redis.script_load(RENEW))
        log.info(json.dumps({"event": "worker_started", "worker": self.name,
                             "partitions": self.settings.partitions}))
        tasks = [asyncio.create_task(t) for t in (self._lease_forever(), self._consume_forever(),
                                                  self._tick_forever())]
        try:
            await self._stopping.wait()
        finally:  # stop(): hand the partitions back; cancelled: leave them to expire, like a crash
            await _cancel_all(tasks)
            if self._stopping.is_set():
                with contextlib.suppress(*DOWN):
                    await self._hand_back()
            await self.redis.aclose()
            await self._reader.aclose()
            self.engine.close()

    def stop(self) -> None:
        self._stopping.set()

    async def _hand_back(self) -> None:
        """A graceful stop: everything is committed; let the others take over now, not after a lease."""
        async with self._turn:
            await self._flush()
            for p in list(self.owned):
                await self._release(keys=[self.keys.lease(p)], args=[self.name])
                self._drop(p)
            await self.redis.zrem(self.keys.workers, self.name)

    async def _until_up(self, step: Any) -> None:
        delay = 0.1
        while True:
            try:
                await step()
                return
            except DOWN as exc:
                log.warning(json.dumps({"event": "redis_unreachable", "worker": self.name, "error": str(exc),
                                        "retry_in_s": delay}))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- leases -------------------------------------------------------------------------------------
    async def _lease_forever(self) -> None:
        every = self.settings.lease_ms / 3000
        while True:
            try:
                await self.rebalance()
            except DOWN as exc:
                log.warning(json.dumps({"event": "redis_unreachable", "worker": self.name, "error": str(exc)}))
            await asyncio.sleep(every)

    async def rebalance(self) -> None:
        """Heartbeat, renew our leases, then move towards our share: take free partitions or hand
        back extra ones."""
        lease_ms = self.settings.lease_ms
        seconds, micros = await self.redis.time()
        now_ms = seconds * 1000 + micros // 1000
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.keys.workers, {self.name: now_ms})
        pipe.zremrangebyscore(self.keys.workers, "-inf", now_ms - 10 * lease_ms)
        pipe.zrange(self.keys.workers, 0, -1, withscores=True)
        _, _, beats = await pipe.execute()
        workers = live({str(w): float(at) for w, at in beats}, now_ms, lease_ms)
        held = list(self.owned)
        pipe = self.redis.pipeline(transaction=False)  # every renewal in one round trip
        for p in held:
            pipe.evalsha(self._renew_sha, 1, self.keys.lease(p), self.name, lease_ms)
        renewed = await pipe.execute(raise_on_error=False)
        for p, ok in zip(held, renewed, strict=True):
            if isinstance(ok, NoScriptError):
                await self.redis.script_load(RENEW)
            elif isinstance(ok, Exception):
                raise ok
            elif not ok and p in self.owned:
                async with self._turn:
                    log.warning(json.dumps({"event": "lease_lost", "worker": self.name, "partition": p}))
                    self._drop(p)
        target = share(workers, self.name, self.settings.partitions)
        order = rotation(self.name, self.settings.partitions)
        holders = await self.redis.mget([self.keys.lease(p) for p in order])
        free = [p for p, holder in zip(order, holders, strict=True) if holder is None]
        take, give = plan(set(self.owned), free, target)
        for p in give:
            async with self._turn:
                await self._flush()
                await self._release(keys=[self.keys.lease(p)], args=[self.name])
                self._drop(p)
        if take:
            pipe = self.redis.pipeline(transaction=False)
            for p in take:
                pipe.set(self.keys.lease(p), self.name, nx=True, px=lease_ms)
            got = await pipe.execute()
            mine = [p for p, ok in zip(take, got, strict=True) if ok]
            if mine:
                await self._acquire(mine)

    async def _acquire(self, partitions: list[int]) -> None:
        started = time.perf_counter()
        pipe = self.redis.pipeline(transaction=True)  # the checkpoints and the views they match, together
        for p in partitions:
            pipe.get(self.keys.checkpoint(p))
            pipe.hkeys(self.keys.views(p))
        found = await pipe.execute()
        async with self._turn:
            for i, p in enumerate(partitions):
                checkpoint, open_calls = found[2 * i], found[2 * i + 1]
                part = Owned(p, checkpoint, rebuild=set(open_calls) if checkpoint is not None else None)
                if checkpoint is not None and not open_calls:
                    part.position = checkpoint  # no open call to rebuild: go on from the checkpoint
                self.owned[p] = part
                log.info(json.dumps({"event": "partition_acquired", "worker": self.name, "partition": p,
                                     "checkpoint": checkpoint, "open_calls": len(open_calls)}))
                if checkpoint is not None:
                    self.takeovers.append({"partition": p, "open_calls": len(open_calls), "started": started})
                    if not part.catching_up:
                        self._caught_up(part)

    def _drop(self, p: int) -> None:
        part = self.owned.pop(p, None)
        self._unsent.pop(p, None)
        if part is not None:
            self.partitions.drop(part)

    # -- clock --------------------------------------------------------------------------------------
    async def _tick_forever(self) -> None:
        """Each partition with open calls gets a tick entry: applied in stream order at the entry's
        time, so a takeover replays the same ticks at the same times."""
        while True:
            await asyncio.sleep(self.tick_interval_s)
            busy = [p for p, part in self.owned.items() if part.starts and not part.catching_up]
            if not busy:
                continue
            pipe = self.redis.pipeline(transaction=False)
            for p in busy:
                pipe.xadd(self.keys.inbound(p), {"k": "t"})
            with contextlib.suppress(*DOWN):
                await pipe.execute()

    # -- consuming ----------------------------------------------------------------------------------
    async def _consume_forever(self) -> None:
        delay = 0.1
        while True:
            try:
                if not await self.consume_once():
                    await asyncio.sleep(0.05)
                delay = 0.1
            except (*DOWN, RedisError) as exc:
                log.warning(json.dumps({"event": "redis_unreachable", "worker": self.name, "error": str(exc),
                                        "retry_in_s": delay}))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def consume_once(self, block_ms: int = 100) -> bool:
        """Read, apply and commit one batch of every owned partition. False when nothing is owned."""
        if self._unsent:
            async with self._turn:
                await self._flush()
        owned = dict(self.owned)
        if not owned:
            return False
        streams = {self.keys.inbound(p): part.position for p, part in owned.items()}
        count = max(8, READ_COUNT // len(owned))  # a turn stays short: leases are renewed between turns
        found: list[Any] = await self._reader.xread(streams, count=count, block=block_ms)  # type: ignore[arg-type,assignment]
        if not found:
            return True
        async with self._turn:
            for stream, entries in found:
                p = int(str(stream).rsplit(":", 1)[1])
                part = self.owned.get(p)
                if part is not owned.get(p) or part is None:
                    continue  # dropped or taken again while we were reading
                was_catching_up = part.catching_up
                for entry_id, raw in entries:
                    self.partitions.apply(part, str(entry_id), entry_fields(raw))
                if was_catching_up and not part.catching_up:
                    self._caught_up(part)
                self._unsent[p] = (part, part.position, self.partitions.take())
            await self._flush()
        return True

    def _caught_up(self, part: Owned) -> None:
        for t in self.takeovers:
            if t["partition"] == part.index and "rebuilt_s" not in t:
                t["rebuilt_s"] = round(time.perf_counter() - t["started"], 3)
                log.info(json.dumps({"event": "partition_rebuilt", "worker": self.name, "partition": part.index,
                                     "calls": len(part.starts), "seconds": t["rebuilt_s"]}))

    async def _flush(self) -> None:
        """Commit every partition's pending writes, each in one script guarded by our lease."""
        if not self._unsent:
            return
        batches = list(self._unsent.items())
        pipe = self.redis.pipeline(transaction=False)
        for p, (part, position, writes) in batches:
            if part.catching_up:
                continue
            trim = ["T", self.keys.inbound(p), self.partitions.trim_point(part)]
            pipe.evalsha(self._commit.sha, 3, self.keys.lease(p), self.keys.checkpoint(p), self.keys.outputs,
                         self.name, position, self.settings.output_maxlen, *writes, *trim)
        try:
            results = await pipe.execute(raise_on_error=False)
        except DOWN:
            raise  # kept in _unsent: retried before anything else is read
        sent = [(p, batch) for p, batch in batches if not batch[0].catching_up]
        for (p, (part, position, _)), result in zip(sent, results, strict=True):
            if isinstance(result, NoScriptError):  # Redis restarted: load it, the batch stays unsent
                await self.redis.script_load(COMMIT)
                return
            if isinstance(result, Exception):
                raise result
            self._unsent.pop(p, None)
            if result == 0:
                log.warning(json.dumps({"event": "lease_lost", "worker": self.name, "partition": p}))
                self._drop(p)
            else:
                part.checkpoint = position
        for p, (part, _, _) in batches:
            if part.catching_up:
                self._unsent.pop(p, None)


async def _cancel_all(tasks: list[asyncio.Task[None]], rounds: int = 5, wait_s: float = 1.0) -> None:
    """Cancel `tasks` and wait until they are done. A cancellation that lands inside a Redis call can
    come back from the client as a connection error, which the retry loops take for Redis being down
    and go on: such a task is cancelled again at its next await (bounded, then left to the loop)."""
    pending = set(tasks)
    for _ in range(rounds):
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=wait_s)
        if not pending:
            break
    for task in tasks:
        failure = task.exception() if task.done() and not task.cancelled() else None
        if failure is not None and not isinstance(failure, DOWN):
            raise failure  # a task's own failure, as awaiting it raised it
    if pending:
        log.warning(json.dumps({"event": "worker_tasks_did_not_stop", "tasks": len(pending)}))
