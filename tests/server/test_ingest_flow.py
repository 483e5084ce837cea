"""/ingest slows a fast sender down instead of refusing it (issue 11, section 1), and a heavy message
is applied in slices so the rest of the server keeps running (issue 12, finding 2)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from serverkit import TOKENS, end, http_get, ingest, recv, rules, run, say, send, start
from websockets.asyncio.client import ClientConnection

from assist.server.app import AssistServer
from assist.server.config import CallLogSettings, Limits, ServerConfig

CALLS = 200


def backlog() -> list[dict[str, Any]]:
    """200 calls as a CTI link replays them after a restart: each call's events, one message each."""
    events: list[dict[str, Any]] = []
    for c in range(CALLS):
        cid = f"burst{c}"
        events.append(start(cid, "a7", seq=1))
        events += [
            {**say(cid, "customer", "I've been waiting for two weeks, this is ridiculous", 3000), "seq": 2,
             "final": False},
            {**say(cid, "customer", "I've been waiting for two weeks, this is ridiculous!", 3200), "seq": 3},
            {**say(cid, "agent", "I'm sorry, can I have your order number?", 6000), "seq": 4},
            {**say(cid, "customer", "It's 4471, please hurry", 9000), "seq": 5},
        ]
        events.append(end(cid, 12000, seq=6))
    return events


async def send_all_then_read(cti: ClientConnection, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send everything without waiting (the server must pace us), reading answers concurrently."""
    async def reader() -> list[dict[str, Any]]:
        return [await recv(cti, timeout=30) for _ in events]

    reading = asyncio.create_task(reader())
    for ev in events:
        await cti.send(json.dumps(ev))
    return await reading


def test_a_burst_and_its_resend_are_all_acked_and_none_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        config = ServerConfig(port=0, tokens=TOKENS, log=CallLogSettings(path=str(tmp_path / "calls.db")))
        async with AssistServer(config, rules()) as srv:
            cti = await ingest(srv)
            events = backlog()
            first = await send_all_then_read(cti, events)
            assert [r["type"] for r in first] == ["ack"] * len(events), {r.get("code") for r in first}
            assert not any(r.get("duplicate") for r in first)
            again = await send_all_then_read(cti, events)  # the link resends all of it
            assert all(r["type"] == "ack" and r.get("duplicate") for r in again), [
                r for r in again if r["type"] != "ack"][:3]
            assert [(r["call_id"], r["seq"]) for r in again] == [(e["call_id"], e["seq"]) for e in events]
            assert srv.calllog is not None and srv.calllog.stats()["calls"] == CALLS

    run(scenario(), timeout=120)


def test_the_abuse_ceiling_is_off_by_default() -> None:
    # with a ceiling set, events over it are answered rate_limited one by one (test_server_input)
    assert Limits().max_events_per_s is None


BOMB = ('""蠢' * 6667)[:20000]  # quote marks around every character: hits x quote spans before the fix


def test_a_batch_of_quote_span_bombs_is_applied_and_healthz_answers_meanwhile() -> None:
    async def scenario() -> None:
        config = ServerConfig(port=0, tokens=TOKENS, limits=Limits(max_message_bytes=1 << 20))
        async with AssistServer(config, rules()) as srv:
            cti = await ingest(srv, max_size=None)
            assert (await send(cti, start("bomb", "a7")))["type"] == "ack"
            batch = [say("bomb", "customer", BOMB, 2000 * (i + 1)) for i in range(5)]
            await cti.send(json.dumps(batch))
            health = asyncio.create_task(http_get(srv, "/healthz"))
            replies = [await recv(cti, timeout=30) for _ in batch]
            assert [r["type"] for r in replies] == ["ack"] * 5
            status, _, _ = await asyncio.wait_for(health, 30)
            assert status == 200

    run(scenario(), timeout=60)
