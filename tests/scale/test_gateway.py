"""A gateway and two workers on a real redis-server, real websockets clients: sidebars get what replay
raises; joining late gives the open prompts; feedback goes round; Redis going away is said clearly
and nothing acknowledged is lost when it returns."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from redisproc import RedisServer
from scalehelp import TOKENS, Sidebar, expected_prompts, gateway_config, prompts_of, rules, run, scripts, until

from assist.client import IngestClient
from assist.scale.gateway import Gateway
from assist.scale.settings import ScaleSettings
from assist.scale.worker import Worker

SETTINGS = ScaleSettings(partitions=8, lease_ms=1500)


async def cluster(stack: AsyncExitStack, url: str, workers: int = 2) -> tuple[Gateway, list[Worker]]:
    gateway = await stack.enter_async_context(Gateway(gateway_config(), url, SETTINGS))
    crew = [Worker(url, rules(), SETTINGS, tick_interval_s=30, name=f"w{i}") for i in range(workers)]
    tasks = [asyncio.create_task(w.run()) for w in crew]

    async def stop() -> None:
        for w in crew:
            w.stop()
        await asyncio.gather(*tasks)

    stack.push_async_callback(stop)
    return gateway, crew


def test_sidebars_through_a_gateway_and_two_workers_get_what_replay_raises(redis_server: RedisServer) -> None:
    calls = scripts(16, 12, prefix="g", agents=4)

    async def scenario() -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]], int]:
        async with AsyncExitStack() as stack:
            gateway, _ = await cluster(stack, redis_server.url)
            ws = gateway.url("", scheme="ws")
            sidebars = {a: await stack.enter_async_context(Sidebar(ws, a)) for a in ("a0", "a1", "a2", "a3")}
            supervisor = await stack.enter_async_context(Sidebar(ws, None))
            async with IngestClient(f"{ws}/ingest", TOKENS["cti"]) as cti:  # type: ignore[arg-type]
                for round_ in range(max(len(evs) for evs in calls.values())):
                    for evs in calls.values():
                        if round_ < len(evs):
                            await cti.send(evs[round_])
                await cti.drain()
                acked = cti.acked

            async def all_summaries() -> bool:
                return len(supervisor.of_kind("summary")) == len(calls)

            await until(all_summaries, 20, "every call's summary at the supervisor")
            await asyncio.sleep(0.2)
            return {a: s.messages for a, s in sidebars.items()}, supervisor.messages, acked

    per_agent, supervised, acked = run(scenario())
    expected = {c: p for c, p in expected_prompts(calls).items() if p}
    assert acked == sum(len(evs) for evs in calls.values())
    seen: dict[str, Any] = {}
    for agent_id, messages in per_agent.items():
        assert messages[0] == {"kind": "state", "agent_id": agent_id, "calls": []}
        mine = prompts_of(messages)
        assert all(calls[c][0]["agent_id"] == agent_id for c in mine), "only the agent's own calls"
        seen.update(mine)
    assert seen == expected
    assert prompts_of(supervised) == expected


def test_a_late_sidebar_gets_the_open_prompts_and_its_feedback_goes_round(redis_server: RedisServer) -> None:
    calls = scripts(4, 12, prefix="f", agents=1)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        async with AsyncExitStack() as stack:
            gateway, _ = await cluster(stack, redis_server.url)
            ws = gateway.url("", scheme="ws")
            async with IngestClient(f"{ws}/ingest", TOKENS["cti"]) as cti:  # type: ignore[arg-type]
                for evs in calls.values():
                    for ev in evs[:-1]:  # every call stays open
                        await cti.send(ev)
                await cti.drain()
            first = await stack.enter_async_context(Sidebar(ws, "a0"))

            async def open_prompts() -> bool:
                state = first.messages[0]
                return len(state["calls"]) == len(calls)

            while not await open_prompts():  # the workers may still be applying: join again
                await first.__aexit__()
                await asyncio.sleep(0.1)
                first = await stack.enter_async_context(Sidebar(ws, "a0"))
            second = await stack.enter_async_context(Sidebar(ws, "a0"))
            prompt = next(p for c in first.messages[0]["calls"] for p in c["prompts"])
            await first.ws.send(f'{{"type":"feedback","id":"{prompt["id"]}","action":"ack"}}')
            await first.ws.send('{"type":"feedback","id":"nope","action":"ack"}')

            async def answered() -> bool:
                return bool(second.of_kind("feedback")) and bool(first.of_kind("error"))

            await until(answered, 10, "the feedback answer at both sidebars")
            again = await stack.enter_async_context(Sidebar(ws, "a0"))
            await asyncio.sleep(0.1)
            return first.messages, second.messages, again.messages

    first, second, again = run(scenario())
    state = first[0]
    assert {c["call_id"] for c in state["calls"]} == set(calls)
    expected = expected_prompts({c: evs[:-1] for c, evs in calls.items()})
    open_ids = {p["id"] for c in state["calls"] for p in c["prompts"]}
    assert open_ids and open_ids <= {p[0] for ps in expected.values() for p in ps}
    answer = [m for m in first + second if m.get("kind") == "feedback"]
    assert len(answer) == 2 and answer[0]["action"] == "ack" and answer[0]["ok"] is True
    assert [m["field"] for m in first if m.get("kind") == "error"] == ["id"]
    acked_id = answer[0]["id"]
    assert acked_id not in {p["id"] for c in again[0]["calls"] for p in c["prompts"]}, "acked: off the view"


def test_redis_killed_and_restarted_with_aof_loses_nothing_acknowledged(redis_server: RedisServer) -> None:
    """Redis dies mid-stream (SIGKILL; AOF on): the gateway says so (/healthz 503, /ingest 503, no acks),
    the CTI client keeps its events pending; Redis comes back on its AOF, everything recovers by itself
    and the sidebar gets exactly what replay raises."""
    calls = scripts(8, 12, prefix="r", agents=1)
    order = [evs[i] for i in range(max(len(e) for e in calls.values())) for evs in calls.values() if i < len(evs)]
    half = len(order) // 2

    async def scenario() -> tuple[list[dict[str, Any]], int, list[int], int]:
        from scalehelp import http_status

        async with AsyncExitStack() as stack:
            gateway, _ = await cluster(stack, redis_server.url, workers=1)
            ws = gateway.url("", scheme="ws")
            supervisor = await stack.enter_async_context(Sidebar(ws, None))
            async with IngestClient(f"{ws}/ingest", TOKENS["cti"], backoff_s=(0.05, 0.3)) as cti:  # type: ignore[arg-type]
                for ev in order[:half]:
                    await cti.send(ev)
                await cti.drain()
                acked_before = cti.acked
                redis_server.stop(9)  # SIGKILL
                for ev in order[half:]:
                    await cti.send(ev)

                async def noticed() -> bool:
                    return not gateway.writer.up

                await until(noticed, 10, "the gateway to notice Redis is gone")
                statuses = [await http_status(gateway.port, "/healthz"),
                            await http_status(gateway.port, "/ingest")]
                await asyncio.to_thread(redis_server.start)
                await asyncio.wait_for(cti.drain(), 20)

                async def all_summaries() -> bool:
                    return len(supervisor.of_kind("summary")) == len(calls)

                await until(all_summaries, 20, "every call's summary after Redis came back")
                return supervisor.messages, acked_before, statuses, cti.acked + cti.duplicates

    messages, acked_before, statuses, answered = run(scenario(), timeout=60)
    assert acked_before == half
    assert statuses == [503, 503]
    assert answered == len(order)
    assert prompts_of(messages) == {c: p for c, p in expected_prompts(calls).items() if p}


def test_a_transferred_call_moves_to_the_new_agent_s_sidebars(redis_server: RedisServer) -> None:
    calls = scripts(1, 12, prefix="x", agents=1)
    (call_id, events), = calls.items()
    transfer = {"type": "call.transfer", "call_id": call_id, "agent_id": "a1", "t_ms": events[4]["end_ms"] + 100}

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        async with AsyncExitStack() as stack:
            gateway, _ = await cluster(stack, redis_server.url)
            ws = gateway.url("", scheme="ws")
            old = await stack.enter_async_context(Sidebar(ws, "a0"))
            new = await stack.enter_async_context(Sidebar(ws, "a1"))
            async with IngestClient(f"{ws}/ingest", TOKENS["cti"]) as cti:  # type: ignore[arg-type]
                for n, ev in enumerate([*events[:5], transfer, *events[5:-1]]):
                    await cti.send({**ev, "seq": n + 1})
                await cti.drain()

            async def moved() -> bool:
                return any(m.get("status") == "transferred" for m in new.messages)

            await until(moved, 10, "the transfer at the new agent's sidebar")
            await asyncio.sleep(0.3)
            late_old = await stack.enter_async_context(Sidebar(ws, "a0"))
            late_new = await stack.enter_async_context(Sidebar(ws, "a1"))
            return old.messages, new.messages, late_old.messages[0], late_new.messages[0]

    old, new, late_old, late_new = run(scenario())
    assert any(m.get("status") == "transferred" and m["agent_id"] == "a1" for m in old)
    snapshot = next(m for m in new if m.get("status") == "transferred")
    assert snapshot["call"]["call_id"] == call_id
    assert late_old["calls"] == [] and [c["call_id"] for c in late_new["calls"]] == [call_id]
