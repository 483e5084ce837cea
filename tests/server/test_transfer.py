"""call.transfer and call.start without an agent: the sidebars of both agents, feedback ownership, the
call log (export replays to the same outputs, a restart keeps the new agent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from serverkit import TOKENS, agent, ingest, raise_prompts, recv, recv_until, rules, run, send, start, ws_url
from websockets.asyncio.client import connect

from assist.replay import Step, replay
from assist.server.app import AssistServer
from assist.server.calllog import export_jsonl
from assist.server.config import CallLogSettings, ServerConfig


def transfer(call_id: str, agent_id: str, t_ms: int) -> dict[str, Any]:
    return {"type": "call.transfer", "call_id": call_id, "agent_id": agent_id, "t_ms": t_ms}


def logged_server(db: Path) -> AssistServer:
    return AssistServer(ServerConfig(port=0, tokens=TOKENS, tick_interval_s=3600,
                                     log=CallLogSettings(path=str(db))), rules())


def test_the_old_agent_sees_the_call_leave_and_the_new_one_gets_its_state_then_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"

    async def go() -> None:
        async with logged_server(db) as srv:
            a7, a8 = await agent(srv, "a7"), await agent(srv, "a8")
            cti = await ingest(srv)
            assert (await send(cti, start("c1", "a7")))["type"] == "ack"
            await raise_prompts(cti, "c1")
            prompt, _ = await recv_until(a7, lambda m: m["kind"] == "prompt")
            assert (await send(cti, transfer("c1", "a8", 6000)))["type"] == "ack"
            left, _ = await recv_until(a7, lambda m: m["kind"] == "call")
            assert (left["status"], left["agent_id"], left["from_agent_id"]) == ("transferred", "a8", "a7")
            assert "call" not in left  # the old agent gets no snapshot of a call it no longer has
            came, _ = await recv_until(a8, lambda m: m["kind"] == "call")
            assert came["status"] == "transferred" and came["call"]["agent_id"] == "a8"
            assert prompt["id"] in {p["id"] for p in came["call"]["prompts"]}
            # the prompt is the new agent's to answer now
            await a7.send(json.dumps({"type": "feedback", "id": prompt["id"], "action": "helpful"}))
            assert (await recv(a7))["kind"] == "error"
            await a8.send(json.dumps({"type": "feedback", "id": prompt["id"], "action": "ack"}))
            assert (await recv_until(a8, lambda m: m["kind"] == "feedback"))[0]["ok"] is True
            assert (await send(cti, {"type": "call.end", "call_id": "c1", "t_ms": 9000}))["type"] == "ack"
            summary, _ = await recv_until(a8, lambda m: m["kind"] == "summary")
            assert summary["feedback"]
            await a7.send(json.dumps({"type": "feedback", "id": "nothing", "action": "ack"}))
            rest = await recv(a7)
            assert rest["kind"] == "error"  # the summary went to a8 only: a7's next message is this answer

    run(go())
    exported = tmp_path / "c1.jsonl"
    exported.write_text(export_jsonl(db, "c1"), encoding="utf-8")
    assert any(json.loads(line)["type"] == "call.transfer" for line in exported.read_text().splitlines())
    outs = [o.to_dict() for s in replay([exported], rules()) if isinstance(s, Step) for o in s.outputs]
    assert {"kind": "transfer", "call_id": "c1", "t_ms": 6000, "agent_id": "a8", "from_agent_id": "a7"} in outs


def test_a_queued_call_without_an_agent_is_assigned_and_a_restart_keeps_the_agent(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"

    async def first() -> None:
        async with logged_server(db) as srv:
            cti = await ingest(srv)
            assert (await send(cti, start("q1", None)))["type"] == "ack"
            await raise_prompts(cti, "q1")
            assert (await send(cti, transfer("q1", "a8", 6000)))["type"] == "ack"

    async def after_restart() -> dict[str, Any]:
        async with logged_server(db) as srv:
            a8 = await connect_state(srv)
            return a8

    async def connect_state(srv: AssistServer) -> dict[str, Any]:
        ws = await connect(ws_url(srv, "/agent", "tok-a8"))
        state: dict[str, Any] = json.loads(await ws.recv())
        await ws.close()
        return state

    run(first())
    state = run(after_restart())
    assert [c["call_id"] for c in state["calls"]] == ["q1"] and state["calls"][0]["agent_id"] == "a8"
    assert state["calls"][0]["prompts"]
