"""Workers against a real redis-server: the same prompts as replay, published once, also when a
worker disappears mid-way and another rebuilds its calls from the partition streams."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redisproc import RedisServer
from scalehelp import expected_prompts, prompts_of, published, push, rules, run, scripts, until

from assist.scale.keys import Keys
from assist.scale.settings import ScaleSettings, connect
from assist.scale.worker import Worker

SETTINGS = ScaleSettings(partitions=8, lease_ms=1500)
KEYS = Keys(SETTINGS.prefix, SETTINGS.partitions)


def summaries(messages: list[dict[str, Any]]) -> int:
    return sum(1 for m in messages if m.get("kind") == "summary")


def test_one_worker_publishes_what_replay_raises_and_keeps_the_call_log(redis_server: RedisServer) -> None:
    calls = scripts(20, 12)
    events = [ev for evs in calls.values() for ev in evs]

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        client = connect(redis_server.url)
        worker = Worker(redis_server.url, rules(), SETTINGS, tick_interval_s=30)
        running = asyncio.create_task(worker.run())
        await push(client, KEYS, events)

        async def done() -> bool:
            return summaries(await published(client, KEYS)) == len(calls)

        await until(done, 20, "a summary for every call")
        messages = await published(client, KEYS)
        views = [await client.hlen(KEYS.views(p)) for p in range(SETTINGS.partitions)]
        left = [await client.xlen(KEYS.inbound(p)) for p in range(SETTINGS.partitions)]
        log = await client.lrange(KEYS.call_log("s0"), 0, -1)
        worker.stop()
        await running
        await client.aclose()
        return messages, {"views": views, "left": left, "log": log}

    messages, state = run(scenario())
    assert prompts_of(messages) == {c: p for c, p in expected_prompts(calls).items() if p}
    assert sum(state["views"]) == 0, "ended calls leave the views"
    assert sum(state["left"]) <= SETTINGS.partitions, "streams are trimmed once their calls ended"
    assert [json.loads(e) for e in state["log"]] == calls["s0"]


def test_a_vanished_worker_s_calls_go_on_at_another_without_loss_or_doubles(redis_server: RedisServer) -> None:
    calls = scripts(40, 12, prefix="t")
    half = {cid: evs[: len(evs) // 2] for cid, evs in calls.items()}
    rest = {cid: evs[len(evs) // 2:] for cid, evs in calls.items()}

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        client = connect(redis_server.url)
        first = Worker(redis_server.url, rules(), SETTINGS, tick_interval_s=30, name="w1")
        running = asyncio.create_task(first.run())
        await push(client, KEYS, [ev for evs in half.values() for ev in evs])

        async def all_started() -> bool:
            views = [await client.hlen(KEYS.views(p)) for p in range(SETTINGS.partitions)]
            return sum(views) == len(calls)

        await until(all_started, 20, "the first worker to open every call")
        await asyncio.sleep(0.3)  # and to apply the first half
        running.cancel()  # gone without handing anything back, as if killed
        await asyncio.gather(running, return_exceptions=True)
        second = Worker(redis_server.url, rules(), SETTINGS, tick_interval_s=30, name="w2")
        took = asyncio.create_task(second.run())
        await push(client, KEYS, [ev for evs in rest.values() for ev in evs])

        async def done() -> bool:
            return summaries(await published(client, KEYS)) == len(calls)

        await until(done, 25, "a summary for every call")
        messages = await published(client, KEYS)
        second.stop()
        await took
        await client.aclose()
        return messages, second.takeovers

    messages, takeovers = run(scenario())
    assert prompts_of(messages) == {c: p for c, p in expected_prompts(calls).items() if p}
    assert summaries(messages) == len(calls)
    assert len(takeovers) == SETTINGS.partitions
    assert all("rebuilt_s" in t for t in takeovers)


def test_a_worker_that_lost_its_leases_rebuilds_and_publishes_nothing_twice(redis_server: RedisServer) -> None:
    """As if the worker had stalled past its leases (all expired mid-stream): it takes the free
    partitions again, replays them from their checkpoints and goes on exactly where they were."""
    calls = scripts(20, 12, prefix="l")
    events = [ev for evs in calls.values() for ev in evs]  # call after call: some end before the loss

    async def scenario() -> list[dict[str, Any]]:
        client = connect(redis_server.url)
        worker = Worker(redis_server.url, rules(), SETTINGS, tick_interval_s=30)
        running = asyncio.create_task(worker.run())
        await push(client, KEYS, events[:100])

        async def applied() -> bool:
            committed = [await client.exists(KEYS.checkpoint(p)) for p in range(SETTINGS.partitions)]
            return sum(committed) >= SETTINGS.partitions // 2

        await until(applied, 20, "the first events applied")
        await client.delete(*[KEYS.lease(p) for p in range(SETTINGS.partitions)])
        await push(client, KEYS, events[100:])

        async def done() -> bool:
            return summaries(await published(client, KEYS)) == len(calls)

        await until(done, 25, "a summary for every call")
        messages = await published(client, KEYS)
        worker.stop()
        await running
        await client.aclose()
        return messages

    messages = run(scenario())
    assert prompts_of(messages) == {c: p for c, p in expected_prompts(calls).items() if p}
    assert summaries(messages) == len(calls)
