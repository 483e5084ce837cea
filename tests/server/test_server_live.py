"""Ingest → engine → the right sidebar, on a real server over loopback."""

from __future__ import annotations

import asyncio

from serverkit import (
    agent,
    end,
    feedback,
    ingest,
    raise_prompts,
    recv,
    recv_until,
    run,
    send,
    server,
    start,
    ws_url,
)
from websockets.asyncio.client import connect


def test_prompt_arrives_on_the_agents_sidebar() -> None:
    async def scenario() -> None:
        async with server() as srv:
            a7 = await agent(srv, "a7")
            cti = await ingest(srv)
            ack = await send(cti, start("c1", "a7", seq=1))
            assert ack == {"type": "ack", "seq": 1, "call_id": "c1"}
            started = await recv(a7)
            assert started["kind"] == "call" and started["status"] == "started" and started["call_id"] == "c1"
            await raise_prompts(cti, "c1")
            prompts: set[str] = set()
            while len(prompts) < 3:  # "ridiculous" and "I've waited two weeks": angry, then the bare apology
                msg, _ = await recv_until(a7, lambda m: m["kind"] == "prompt")
                assert msg["call_id"] == "c1" and msg["id"].startswith("c1:") and msg["say"]
                prompts.add(msg["rule"])
            assert prompts == {"tip-angry", "acknowledge-before-apology", "acknowledge-emotion"}
            assert (await send(cti, end("c1", 9000)))["type"] == "ack"
            summary, _ = await recv_until(a7, lambda m: m["kind"] == "summary")
            assert summary["call_id"] == "c1"
            ended, _ = await recv_until(a7, lambda m: m["kind"] == "call")
            assert ended["status"] == "ended"

    run(scenario())


def test_an_agent_never_sees_another_agents_call() -> None:
    async def scenario() -> None:
        async with server() as srv:
            a7, a8 = await agent(srv, "a7"), await agent(srv, "a8")
            sup = await connect(ws_url(srv, "/supervisor", "sup-secret"))
            assert (await recv(sup))["kind"] == "state"
            cti = await ingest(srv)
            await send(cti, start("c7", "a7"))
            await send(cti, start("c8", "a8"))
            await raise_prompts(cti, "c7")
            await send(cti, end("c8", 100))
            # a8 hears about its own call only, and nothing of c7's prompts
            msgs = []
            msg, before = await recv_until(a8, lambda m: m["kind"] == "call" and m["status"] == "ended")
            msgs = [*before, msg]
            assert {m["call_id"] for m in msgs} == {"c8"}
            prompt, _ = await recv_until(a7, lambda m: m["kind"] == "prompt")
            assert prompt["call_id"] == "c7"
            with_sup, _ = await recv_until(sup, lambda m: m["kind"] == "prompt")
            assert with_sup["call_id"] == "c7"  # the supervisor sees every call
            await asyncio.sleep(0.2)
            while True:
                try:
                    extra = await recv(a8, timeout=0.2)
                except TimeoutError:
                    break
                assert extra["call_id"] == "c8"
            # and a8 cannot act on a7's prompt
            await feedback(a8, prompt["id"], "dismiss")
            err = await recv(a8)
            assert err["kind"] == "error" and err["field"] == "id"

    run(scenario())


def test_a_sidebar_reconnecting_mid_call_gets_the_state_first() -> None:
    async def scenario() -> None:
        async with server() as srv:
            cti = await ingest(srv)
            await send(cti, start("c1", "a7"))
            await raise_prompts(cti, "c1")
            await send(cti, start("c2", "a8"))
            late = await connect(ws_url(srv, "/agent", "tok-a7"))
            state = await recv(late)
            assert state["kind"] == "state" and state["agent_id"] == "a7"
            [view] = state["calls"]
            assert view["call_id"] == "c1" and view["agent_id"] == "a7" and view["lang"] == "en"
            assert view["t_ms"] == 5000
            wanted = {"acknowledge-before-apology", "acknowledge-emotion"}
            assert {p["rule"] for p in view["prompts"]} >= wanted
            assert all(p["kind"] == "prompt" and p["id"] for p in view["prompts"])
            # then live updates
            await send(cti, end("c1", 9000))
            summary, _ = await recv_until(late, lambda m: m["kind"] == "summary")
            assert summary["call_id"] == "c1"

    run(scenario())


def test_dismiss_closes_the_prompt_for_every_sidebar_of_the_agent() -> None:
    async def scenario() -> None:
        async with server() as srv:
            first, second = await agent(srv, "a7"), await agent(srv, "a7")
            cti = await ingest(srv)
            await send(cti, start("c1", "a7"))
            await raise_prompts(cti, "c1")
            prompt, _ = await recv_until(first, lambda m: m["kind"] == "prompt")
            await feedback(first, prompt["id"], "dismiss")
            for ws in (first, second):
                fb, _ = await recv_until(ws, lambda m: m["kind"] == "feedback")
                assert fb == {"kind": "feedback", "call_id": "c1", "id": prompt["id"], "rule": prompt["rule"],
                              "action": "dismiss", "ok": True}
            await feedback(first, prompt["id"], "helpful")
            fb, _ = await recv_until(first, lambda m: m["kind"] == "feedback")
            assert fb["action"] == "helpful" and fb["ok"] is True
            await feedback(first, prompt["id"], "love-it")
            err, _ = await recv_until(first, lambda m: m["kind"] == "error")
            assert err["field"] == "action"
            late = await connect(ws_url(srv, "/agent", "tok-a7"))
            state = await recv(late)
            assert prompt["id"] not in {p["id"] for p in state["calls"][0]["prompts"]}
            await send(cti, end("c1", 9000))  # the call's summary counts the feedback it got
            summary, _ = await recv_until(first, lambda m: m["kind"] == "summary")
            assert summary["feedback"][prompt["rule"]] == {"dismiss": 1, "helpful": 1}

    run(scenario())


def test_idle_calls_are_closed_by_the_live_clock() -> None:
    async def scenario() -> None:
        async with server(idle_timeout_s=0.4, tick_interval_s=0.1) as srv:
            a7 = await agent(srv, "a7")
            cti = await ingest(srv)
            await send(cti, start("c1", "a7"))
            await send(cti, {"type": "utterance", "call_id": "c1", "speaker": "customer", "text": "hello",
                             "start_ms": 0, "end_ms": 1000})
            summary, _ = await recv_until(a7, lambda m: m["kind"] == "summary", timeout=5)
            assert summary["t_ms"] >= 1000 + 400  # last event time + the wall time it sat idle
            ended, _ = await recv_until(a7, lambda m: m["kind"] == "call")
            assert ended["status"] == "ended" and ended["reason"] == "idle"
            reply = await send(cti, {"type": "utterance", "call_id": "c1", "speaker": "customer",
                                     "text": "still there?", "start_ms": 2000, "end_ms": 3000})
            assert reply["type"] == "error" and reply["code"] == "call_ended"

    run(scenario())
