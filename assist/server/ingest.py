"""/ingest: one CTI link's messages applied in order, each answered once the call log holds it.

A native link sends events (or batches of them, see docs/protocol.md); a vendor stream
(server/vendor.py) sends its own messages, answered by index. Reading does not wait for the disk, so
one connection's events share transactions too; the answers go out in order (server/sending.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from websockets.asyncio.server import ServerConnection

from assist.core.events import json_problem
from assist.errors import Problem
from assist.server.config import Limits
from assist.server.guard import IngestBudget
from assist.server.router import Durability, Router
from assist.server.sending import Acks, send_acks
from assist.server.shutdown import Shutdown
from assist.server.vendor import VendorIngest
from assist.server.wire import ingest_error

CLOSE_RATE_LIMIT = 1008  # policy violation: a client far over its event rate is disconnected


def _mark(commits: Durability | None) -> int:
    return commits.mark() if commits is not None else 0


async def ingest_native(connection: ServerConnection, router: Router, commits: Durability | None,
                        shutdown: Shutdown, limits: Limits) -> None:
    """Apply messages as they come; their acks go out, in order, once the call log holds them."""
    budget = IngestBudget(limits.ingest_slice_bytes, limits.max_events_per_s)
    acks: Acks = asyncio.Queue(limits.acks_in_flight)
    sender = asyncio.create_task(send_acks(connection, acks, commits))
    try:
        async for message in shutdown.messages(connection):
            replies = await apply_message(router, message, time.perf_counter(), budget)
            await acks.put((_mark(commits), replies))
            if budget.abusive():
                await acks.put(None)
                await sender
                await connection.close(CLOSE_RATE_LIMIT, "rate limit exceeded")
                return
        await acks.put(None)
        await sender  # the last acks go out (or the connection is gone)
        await shutdown.going_away(connection)
    finally:
        sender.cancel()


async def ingest_vendor(connection: ServerConnection, vendor: VendorIngest, commits: Durability | None,
                        shutdown: Shutdown, limits: Limits) -> None:
    """A vendor stream (see server/vendor.py): answers by message index, sent once the log holds them."""
    acks: Acks = asyncio.Queue(limits.acks_in_flight)
    sender = asyncio.create_task(send_acks(connection, acks, commits))
    budget = IngestBudget(limits.ingest_slice_bytes, None)  # the native path's pacing
    try:
        async for message in shutdown.messages(connection):
            replies = vendor.message(message, time.perf_counter())
            await acks.put((_mark(commits), replies))
            if budget.spend(len(message)):
                await asyncio.sleep(0)  # healthz, ticks, commits and other connections run here
        if not shutdown.stopping:  # a normal close ends the call; an abnormal one raised above
            vendor.close(time.perf_counter())
        await acks.put((_mark(commits), []))  # committed too
        await acks.put(None)
        await sender
        await shutdown.going_away(connection)
    finally:
        sender.cancel()


async def apply_message(router: Router, message: str | bytes, stamp: float,
                        budget: IngestBudget) -> list[dict[str, Any]]:
    """Apply one /ingest message (an event or a batch); its replies, one per event, in order. A big
    batch is applied in slices of the connection's byte budget, with the loop running in between."""
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
    replies: list[dict[str, Any]] = []
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
