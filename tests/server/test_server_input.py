"""Bad input and limits on /ingest: each gets its defined answer, and nothing else is lost."""

from __future__ import annotations

import json

import pytest
from serverkit import agent, end, ingest, raise_prompts, recv, recv_until, run, say, send, server, start
from websockets.exceptions import ConnectionClosed


def test_each_bad_event_gets_its_answer_and_the_connection_goes_on() -> None:
    async def scenario() -> None:
        async with server() as srv:
            a7 = await agent(srv, "a7")
            cti = await ingest(srv)
            assert (await send(cti, start("c1", "a7", seq=1)))["type"] == "ack"

            await cti.send("{not json")
            err = await recv(cti)
            assert err["type"] == "error" and err["code"] == "invalid_json" and err["got"] == "invalid JSON"

            err = await send(cti, {"type": "utterance", "call_id": "c1", "speaker": "robot", "text": "hi",
                                   "start_ms": 0, "end_ms": 10, "seq": 2})
            assert err["type"] == "error" and err["field"] == "speaker" and err["seq"] == 2
            assert "'robot'" in err["got"]

            err = await send(cti, {"type": "hangup", "call_id": "c1"})
            assert err["field"] == "type" and err["code"] == "invalid"

            err = await send(cti, say("nope", "customer", "hello", 100, seq=3))
            assert err["code"] == "unknown_call" and err["field"] == "call_id" and err["got"] == "nope"

            ack = await send(cti, say("c1", "customer", "hello there", 1000, seq=4))
            assert ack == {"type": "ack", "seq": 4, "call_id": "c1"}
            dup = await send(cti, say("c1", "customer", "hello there", 1000, seq=4))
            assert dup == {"type": "ack", "seq": 4, "call_id": "c1", "duplicate": True}
            dup = await send(cti, start("c1", "a7", seq=1))  # a re-sent call.start is a duplicate too
            assert dup["duplicate"] is True

            assert (await send(cti, end("c1", 2000, seq=5)))["type"] == "ack"
            err = await send(cti, say("c1", "agent", "anything else?", 3000, seq=6))
            assert err["code"] == "call_ended" and err["expected"] == "an open call"
            assert (await send(cti, end("c1", 2000, seq=5)))["duplicate"] is True

            # after all that, the same connection still raises prompts on a new call
            await send(cti, start("c2", "a7"))
            await raise_prompts(cti, "c2")
            prompt, _ = await recv_until(a7, lambda m: m["kind"] == "prompt")
            assert prompt["call_id"] == "c2"

    run(scenario())


def test_a_batch_is_answered_per_event_with_its_index() -> None:
    async def scenario() -> None:
        async with server() as srv:
            cti = await ingest(srv)
            await cti.send(json.dumps([start("b1", "a7", seq=1), {"type": "utterance", "call_id": "b1"},
                                       say("b1", "customer", "hi", 500, seq=3)]))
            replies = [await recv(cti) for _ in range(3)]
            assert [r["type"] for r in replies] == ["ack", "error", "ack"]
            assert replies[1]["index"] == 1 and replies[1]["field"] == "speaker"

    run(scenario())


def test_too_many_open_calls_are_refused_and_open_calls_go_on() -> None:
    async def scenario() -> None:
        async with server(max_calls=2) as srv:
            cti = await ingest(srv)
            await send(cti, start("c1"))
            await send(cti, start("c2"))
            err = await send(cti, start("c3"))
            assert err["code"] == "capacity" and err["call_id"] == "c3"
            assert (await send(cti, say("c1", "customer", "hello", 100)))["type"] == "ack"
            await send(cti, end("c2", 100))
            assert (await send(cti, start("c3")))["type"] == "ack"

    run(scenario())


def test_a_message_over_the_size_limit_closes_that_connection_only() -> None:
    async def scenario() -> None:
        async with server(max_message_bytes=4096) as srv:
            a7 = await agent(srv, "a7")
            other = await ingest(srv)
            await send(other, start("c1", "a7"))
            big = await ingest(srv)
            await big.send(json.dumps(say("c1", "customer", "x" * 10_000, 100)))
            with pytest.raises(ConnectionClosed):
                await recv(big)
            assert big.close_code == 1009  # message too big
            await raise_prompts(other, "c1")
            prompt, _ = await recv_until(a7, lambda m: m["kind"] == "prompt")
            assert prompt["call_id"] == "c1"

    run(scenario())


def test_events_over_the_rate_limit_are_refused_with_a_clear_error() -> None:
    async def scenario() -> None:
        async with server(max_events_per_s=5) as srv:
            cti = await ingest(srv)
            await cti.send(json.dumps([start("c1")] + [say("c1", "customer", "hi", 100 * i, seq=i)
                                                      for i in range(1, 10)]))
            replies = [await recv(cti) for _ in range(10)]
            codes = [r.get("code", "ack") for r in replies]
            assert codes[:5] == ["ack"] * 5 and set(codes[5:]) == {"rate_limited"}
            assert replies[5]["seq"] == 5 and "events/s" in replies[5]["expected"]
            other = await ingest(srv)  # the limit is per connection
            assert (await send(other, say("c1", "customer", "hello", 2000)))["type"] == "ack"

    run(scenario())


def test_a_client_far_over_the_rate_is_disconnected_with_1008() -> None:
    async def scenario() -> None:
        async with server(max_events_per_s=2) as srv:
            cti = await ingest(srv)
            await cti.send(json.dumps([say("x", "customer", "hi", i) for i in range(40)]))
            with pytest.raises(ConnectionClosed):
                for _ in range(100):
                    await recv(cti)
            assert cti.close_code == 1008

    run(scenario())
