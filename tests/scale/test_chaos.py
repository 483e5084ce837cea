"""Chaos: 100 concurrent calls through `assist gateway` and two `assist worker` processes; one worker
is SIGKILLed in the middle and not restarted. The other takes its partitions over: every agent gets
exactly the prompts replay raises (nothing lost, nothing doubled). The takeover time is printed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from redisproc import RedisServer
from scalehelp import TOKENS, Sidebar, expected_prompts, prompts_of, run, scripts, until
from scaleproc import GatewayProc, worker, write_config

from assist.client import IngestClient
from assist.scale.keys import Keys
from assist.scale.settings import connect

CALLS = 100
TURNS = 12
AGENTS = 10
PARTITIONS = 16
LEASE_MS = 2000
KILL_AT = 0.4


async def owners(client: Any, keys: Keys) -> Counter[str]:
    return Counter(str(v) for v in await client.mget([keys.lease(p) for p in range(keys.partitions)]))


def test_sigkill_one_of_two_workers_mid_way_loses_and_doubles_nothing(redis_server: RedisServer,
                                                                     tmp_path: Path) -> None:
    calls = scripts(CALLS, TURNS, prefix="k", agents=AGENTS)
    order = [evs[i] for i in range(max(len(e) for e in calls.values())) for evs in calls.values() if i < len(evs)]
    config = write_config(tmp_path / "assist.yaml", partitions=PARTITIONS, lease_ms=LEASE_MS)
    keys = Keys("assist", PARTITIONS)
    procs = [worker(redis_server.url, config, "w1", tmp_path), worker(redis_server.url, config, "w2", tmp_path)]
    gateway = GatewayProc(redis_server.url, config, tmp_path).start()

    async def scenario() -> tuple[dict[str, list[dict[str, Any]]], float, int]:
        client = connect(redis_server.url)
        await gateway.ready()

        async def both_working() -> bool:
            return set((await owners(client, keys)).keys()) == {"w1", "w2"}

        await until(both_working, 30, "both workers to hold partitions")
        sidebars = [Sidebar(gateway.ws, f"a{i}") for i in range(AGENTS)]
        for s in sidebars:
            await s.__aenter__()
        took = 0.0
        async with IngestClient(f"{gateway.ws}/ingest", TOKENS["cti"]) as cti:  # type: ignore[arg-type]
            for n, ev in enumerate(order):
                await cti.send(ev)
                if n % 50 == 49:
                    await asyncio.sleep(0.02)  # calls in progress, not one burst
                if n == int(len(order) * KILL_AT):
                    await cti.drain()
                    procs[0].kill()
                    killed = time.monotonic()
            await cti.drain()

            async def taken_over() -> bool:
                return await owners(client, keys) == Counter({"w2": PARTITIONS})

            await until(taken_over, 30, "the survivor to hold every partition")
            took = time.monotonic() - killed

            async def all_summaries() -> bool:
                return sum(len(s.of_kind("summary")) for s in sidebars) == CALLS

            await until(all_summaries, 40, "every call's summary at its agent")
            await asyncio.sleep(0.3)  # anything doubled would arrive now
            acked = cti.acked
        for s in sidebars:
            await s.__aexit__()
        await client.aclose()
        return {f"a{i}": s.messages for i, s in enumerate(sidebars)}, took, acked

    try:
        per_agent, took, acked = run(scenario(), timeout=120)
    finally:
        gateway.stop()
        for p in procs:
            p.stop()
    print(f"\ntakeover: {took:.2f} s from SIGKILL until the survivor held all {PARTITIONS} partitions "
          f"(lease {LEASE_MS} ms)")
    assert acked == len(order)
    got: dict[str, Any] = {}
    for messages in per_agent.values():
        got.update(prompts_of(messages))
    assert got == {c: p for c, p in expected_prompts(calls).items() if p}
    summaries = Counter(m["call_id"] for ms in per_agent.values() for m in ms if m.get("kind") == "summary")
    assert set(summaries.values()) == {1} and len(summaries) == CALLS
