"""A stuck sidebar never slows ingest or another agent: bounded queues, oldest low-severity first out."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from serverkit import ANGRY, SORRY, agent, ingest, recv, recv_until, run, say, server, start, ws_url
from websockets.asyncio.client import connect

from assist.server.outbox import HIGH, LOW, NORMAL, Outbox


def prompt_of(call_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["kind"] == "prompt" and m["call_id"] == call_id


LONG = ANGRY + " I keep telling you" * 800  # ~15 kB of evidence per prompt fills socket buffers quickly


def test_a_stuck_sidebar_loses_old_items_but_ingest_and_others_go_on() -> None:
    async def scenario() -> None:
        async with server(queue_size=8, max_events_per_s=100_000, max_message_bytes=1 << 20) as srv:
            stuck = await connect(ws_url(srv, "/agent", "tok-a9"), max_queue=1)  # and never reads, for now
            a7 = await agent(srv, "a7")
            cti = await ingest(srv, max_size=None)
            slowest_ack = 0.0
            for i in range(1000):
                if (srv.metrics.registry.get_sample_value("assist_messages_dropped_total") or 0) > 20:
                    break
                batch = [start(f"s{i}", "a9"), say(f"s{i}", "customer", LONG, 3000),
                         say(f"s{i}", "agent", SORRY, 5000), start(f"f{i}", "a7"),
                         say(f"f{i}", "customer", ANGRY, 3000), say(f"f{i}", "agent", SORRY, 5000)]
                sent = time.perf_counter()
                await cti.send(json.dumps(batch))
                replies = [await recv(cti) for _ in batch]
                slowest_ack = max(slowest_ack, time.perf_counter() - sent)
                assert all(r["type"] == "ack" for r in replies)
                await recv_until(a7, prompt_of(f"f{i}"))
            else:
                raise AssertionError("the stuck sidebar's queue never overflowed")
            assert slowest_ack < 0.5, f"ingest slowed to {slowest_ack:.3f} s by a stuck sidebar"
            # the stuck sidebar wakes up: it is told what it lost, then gets what was kept
            notice, before = await recv_until(stuck, lambda m: m["kind"] == "dropped", timeout=10)
            assert notice["count"] > 0
            assert before[0]["kind"] == "state"
            with contextlib.suppress(TimeoutError):  # read what is left, so closing need not wait for it
                await recv_until(stuck, lambda m: False, timeout=1)
            await stuck.close()

    run(scenario(), timeout=60)


def test_outbox_drops_the_oldest_lowest_rank_item_first() -> None:
    box = Outbox(3)
    box.put("warn-1", NORMAL)
    box.put("info-1", LOW)
    box.put("info-2", LOW)
    box.put("urgent-1", HIGH)  # full: info-1 (oldest of the lowest rank) goes
    assert [i.text for i in box._items] == ["warn-1", "info-2", "urgent-1"]
    box.put("urgent-2", HIGH)  # info-2 goes
    box.put("info-3", LOW)     # nothing lower than it left: the newcomer goes
    assert [i.text for i in box._items] == ["warn-1", "urgent-1", "urgent-2"]
    assert box._dropped == 3
