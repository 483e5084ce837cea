"""Sidebars and supervisors that misbehave (issue 12, findings 4, 5 and 12): a feedback flood, a reused
call id, and supervisor sockets that never read cost bounded work and memory, and reach no other call."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from serverkit import (
    TOKENS,
    agent,
    end,
    feedback,
    ingest,
    raise_prompts,
    recv_until,
    rules,
    run,
    say,
    send,
    server,
    start,
    ws_url,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from assist.server.app import AssistServer
from assist.server.config import CallLogSettings, Limits, ServerConfig
from assist.server.hub import SNAPSHOT_EVIDENCE_CHARS


async def quiet(ws: ClientConnection, seconds: float = 1.0, first: float = 0.0) -> list[dict[str, Any]]:
    """Everything that arrives until nothing has for `seconds` (waiting up to `first` for the first)."""
    got: list[dict[str, Any]] = []
    if first:
        got.append(json.loads(await asyncio.wait_for(ws.recv(), first)))
    try:
        while True:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), seconds)))
    except TimeoutError:
        return got


def feedback_rows(srv: AssistServer, call_id: str) -> int:
    assert srv.calllog is not None
    return sum(1 for e in srv.calllog.events(call_id) if e["type"] == "feedback")


def ratings(srv: AssistServer, rule: str, action: str) -> float:
    return srv.metrics.registry.get_sample_value("assist_feedback_total", {"rule": rule, "action": action}) or 0


def test_one_rating_per_prompt_per_agent_and_a_flood_is_rate_limited(tmp_path: Path) -> None:
    async def scenario() -> None:
        config = ServerConfig(port=0, tokens=TOKENS, log=CallLogSettings(path=str(tmp_path / "calls.db")))
        async with AssistServer(config, rules()) as srv:
            a7 = await agent(srv, "a7")
            cti = await ingest(srv)
            await send(cti, start("fb1", "a7"))
            await raise_prompts(cti, "fb1")
            prompt, _ = await recv_until(a7, lambda m: m["kind"] == "prompt")
            for _ in range(300):
                await feedback(a7, prompt["id"], "helpful")
            answers = await quiet(a7, first=10)
            assert any(m["kind"] == "error" and "messages/s" in m["expected"] for m in answers)
            ok = [m for m in answers if m["kind"] == "feedback"]
            assert ok and not ok[0].get("duplicate") and all(m.get("duplicate") for m in ok[1:])
            assert ratings(srv, prompt["rule"], "helpful") == 1
            await asyncio.sleep(1.1)  # the bucket refills: the agent changes its mind, last rating wins
            await feedback(a7, prompt["id"], "not_helpful")
            answer, _ = await recv_until(a7, lambda m: m["kind"] == "feedback")
            assert answer["action"] == "not_helpful" and not answer.get("duplicate")
            assert ratings(srv, prompt["rule"], "not_helpful") == 1  # ratings given, changes included
            summary = await send(cti, end("fb1", 20_000))
            assert summary["type"] == "ack"
            done, _ = await recv_until(a7, lambda m: m["kind"] == "summary")
            assert done["feedback"][prompt["rule"]] == {"not_helpful": 1}
            assert feedback_rows(srv, "fb1") == 2

    run(scenario(), timeout=40)


def test_feedback_on_a_reused_call_id_does_not_reach_the_new_call() -> None:
    async def scenario() -> None:
        async with server() as srv:
            a7, a8 = await agent(srv, "a7"), await agent(srv, "a8")
            cti = await ingest(srv)
            await send(cti, start("R", "a7"))
            await raise_prompts(cti, "R")
            old, _ = await recv_until(a7, lambda m: m["kind"] == "prompt")
            await send(cti, end("R", 9000))
            await send(cti, start("R", "a8"))  # the id is reused, for another agent
            await recv_until(a8, lambda m: m.get("kind") == "call" and m["status"] == "started")
            await feedback(a7, old["id"], "helpful")
            err, _ = await recv_until(a7, lambda m: m["kind"] in ("error", "feedback"))
            assert err["kind"] == "error" and err["field"] == "id" and "ended" in err["message"]
            assert await quiet(a8) == []  # nothing reached the new call's agent
            assert (await send(cti, say("R", "customer", "hello", 2000)))["type"] == "ack"

    run(scenario())


def test_snapshots_carry_short_evidence_and_connections_per_token_are_capped() -> None:
    long = "This is ridiculous, I have waited two weeks! " + "and I keep telling you " * 800

    async def scenario() -> None:
        async with server(max_message_bytes=1 << 20, connections_per_token=4) as srv:
            cti = await ingest(srv)
            for i in range(20):
                await send(cti, start(f"s{i}", "a7"))
                assert (await send(cti, say(f"s{i}", "customer", long, 3000)))["type"] == "ack"
                assert (await send(cti, say(f"s{i}", "agent", "I'm sorry, can I have your order?", 5000)))[
                    "type"] == "ack"
            sups = [await connect(ws_url(srv, "/supervisor", "sup-secret"), max_size=None) for _ in range(4)]
            raw = await sups[0].recv()
            state = json.loads(raw)
            assert state["kind"] == "state" and len(state["calls"]) == 20
            texts = [e["text"] for c in state["calls"] for p in c["prompts"] for e in p["evidence"]]
            assert texts and all(len(t) <= SNAPSHOT_EVIDENCE_CHARS + 1 for t in texts)
            assert len(raw) < 20 * 4 * (SNAPSHOT_EVIDENCE_CHARS + 2000)
            try:
                await connect(ws_url(srv, "/supervisor", "sup-secret"))
                raise AssertionError("a fifth supervisor socket on one token was accepted")
            except InvalidStatus as exc:
                assert exc.response.status_code == 429
            await sups[1].close()
            await asyncio.sleep(0.1)
            again = await connect(ws_url(srv, "/supervisor", "sup-secret"), max_size=None)  # a slot is free
            assert json.loads(await again.recv())["kind"] == "state"

    run(scenario(), timeout=40)


def test_outboxes_are_bounded_by_bytes_too() -> None:
    from assist.server.outbox import NORMAL, Outbox

    box = Outbox(1000, max_bytes=10_000)
    for i in range(50):
        box.put("x" * 1000 + str(i), NORMAL)
    assert box.bytes <= 10_000 + 1010 and len(box) <= 11
    assert box.dropped > 0
    box.put("y" * 50_000, NORMAL)  # one message bigger than the budget still goes (alone)
    assert len(box) == 1


def test_limits_reach_the_config() -> None:
    assert Limits().connections_per_token >= 8
    assert Limits().agent_messages_per_s >= 5


def test_ended_calls_are_remembered_up_to_a_number_of_ids_and_utterance_ids_as_hashes() -> None:
    from assist.server.ledger import EndedCalls, uid_key

    ended = EndedCalls(max_calls=10_000, max_ids=1_000)
    for i in range(100):
        ended.remember(f"c{i}", set(range(40)), {uid_key("u" * 128 + str(i))})
    assert ended.ids <= 1_000 and len(ended) < 30
    assert "c99" in ended and "c0" not in ended  # the oldest go first
    _seqs, uids = ended.get("c99") or (set(), set())
    assert all(isinstance(u, int) for u in uids)
