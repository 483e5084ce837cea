"""`assist gateway` SIGKILLed mid-stream and started again: the CTI client (assist.client) reconnects and
resends after its last ack, sidebars reconnect and get the calls' state; nothing is lost or doubled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from redisproc import RedisServer
from scalehelp import TOKENS, Sidebar, expected_prompts, prompts_of, published, run, scripts, until
from scaleproc import GatewayProc, worker, write_config

from assist.client import IngestClient
from assist.scale.keys import Keys
from assist.scale.settings import connect

PARTITIONS = 8


def test_a_restarted_gateway_loses_nothing_and_sidebars_resume(redis_server: RedisServer, tmp_path: Path) -> None:
    calls = scripts(30, 12, prefix="gr", agents=3)
    order = [evs[i] for i in range(max(len(e) for e in calls.values())) for evs in calls.values() if i < len(evs)]
    config = write_config(tmp_path / "assist.yaml", partitions=PARTITIONS, lease_ms=2000)
    keys = Keys("assist", PARTITIONS)
    crew = worker(redis_server.url, config, "w1", tmp_path)
    gateway = GatewayProc(redis_server.url, config, tmp_path).start()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]:
        client = connect(redis_server.url)
        await gateway.ready()
        async with IngestClient(f"{gateway.ws}/ingest", TOKENS["cti"], backoff_s=(0.05, 0.5)) as cti:  # type: ignore[arg-type]
            for ev in order[: len(order) // 2]:
                await cti.send(ev)
            await cti.drain()
            gateway.kill()
            for ev in order[len(order) // 2:]:
                await cti.send(ev)  # pending: the client is reconnecting
            await asyncio.sleep(0.3)
            gateway.start()
            await gateway.ready()
            after = await Sidebar(gateway.ws, "a0").__aenter__()
            await asyncio.wait_for(cti.drain(), 30)
            answered = cti.acked + cti.duplicates

            async def all_summaries() -> bool:
                return sum(m.get("kind") == "summary" for m in await published(client, keys)) == len(calls)

            await until(all_summaries, 30, "every call's summary")
            await asyncio.sleep(0.2)
            messages = await published(client, keys)
            await after.__aexit__()
            await client.aclose()
            return messages, after.messages, answered, cti.reconnects

    try:
        messages, after, answered, reconnects = run(scenario(), timeout=90)
    finally:
        gateway.stop()
        crew.stop()
    assert reconnects >= 1
    assert answered == len(order)
    assert prompts_of(messages) == {c: p for c, p in expected_prompts(calls).items() if p}
    state = after[0]
    assert state["kind"] == "state" and state["agent_id"] == "a0"
    mine = {c for c, evs in calls.items() if evs[0]["agent_id"] == "a0"}
    assert {c["call_id"] for c in state["calls"]} <= mine
    summaries = [m["call_id"] for m in after if m.get("kind") == "summary"]
    assert len(summaries) == len(set(summaries)) and set(summaries) <= mine
    assert {c["call_id"] for c in state["calls"]} <= set(summaries), "the calls it was shown end on it"
