"""Hostile and broken frames (issue 12): each is answered with an error, and the server, the call log
and every other connection go on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from serverkit import (
    TOKENS,
    agent,
    end,
    http_get,
    ingest,
    recv,
    recv_until,
    rules,
    run,
    say,
    send,
    server,
    start,
    ws_url,
)
from websockets.asyncio.client import connect

from assist.server.app import AssistServer
from assist.server.config import CallLogSettings, ServerConfig

SURROGATE = "\ud800"  # json.dumps writes it as the escape \ud800, which json.loads reads back as a lone half


async def health(srv: AssistServer) -> tuple[int, dict[str, Any]]:
    status, _, body = await http_get(srv, "/healthz", {"Authorization": "Bearer sup-secret"})
    return status, json.loads(body)


def test_a_lone_surrogate_anywhere_in_an_event_is_refused_and_the_call_log_goes_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        config = ServerConfig(port=0, tokens=TOKENS, log=CallLogSettings(path=str(tmp_path / "calls.db")))
        async with AssistServer(config, rules()) as srv:
            cti = await ingest(srv)
            bad = {**start("sur1", "a2", seq=1), "note": SURROGATE}
            err = await send(cti, bad)
            assert err["type"] == "error" and err["code"] == "invalid" and err["field"] == "note"
            assert "surrogate" in err["expected"]
            nested = {**start("sur2", "a2", seq=2), "extra": {"deep": ["ok", "x" + SURROGATE]}}
            err = await send(cti, nested)
            assert err["field"] == "extra.deep.1"
            err = await send(cti, say("sur1", "customer", "hello" + SURROGATE, 1000, seq=3))
            assert err["field"] == "text"
            # the call log still commits: acks keep coming on this and on a new connection
            assert await send(cti, start("ok1", "a2", seq=4)) == {"type": "ack", "seq": 4, "call_id": "ok1"}
            other = await ingest(srv)
            assert (await send(other, start("ok2", "a2", seq=1)))["type"] == "ack"
            status, body = await health(srv)
            assert status == 200 and body["status"] == "ok"

    run(scenario())


def test_a_surrogate_in_lang_is_refused_and_supervisors_and_sidebars_stay_connected() -> None:
    async def scenario() -> None:
        async with server() as srv:
            sup = await connect(ws_url(srv, "/supervisor", "sup-secret"))
            assert (await recv(sup))["kind"] == "state"
            a7 = await agent(srv, "a7")
            cti = await ingest(srv)
            err = await send(cti, {**start("l1", "a7"), "lang": "en" + SURROGATE})
            assert err["type"] == "error" and err["field"] == "lang"
            assert (await send(cti, start("l2", "a7")))["type"] == "ack"
            seen, _ = await recv_until(sup, lambda m: m.get("call_id") == "l2")
            assert seen["status"] == "started"
            await recv_until(a7, lambda m: m.get("call_id") == "l2")
            # a reconnecting sidebar gets its snapshot
            again = await agent(srv, "a7")
            await again.close()

    run(scenario())


def test_an_invalid_event_whose_call_id_is_a_surrogate_is_answered_and_the_connection_goes_on() -> None:
    async def scenario() -> None:
        async with server() as srv:
            cti = await ingest(srv)
            err = await send(cti, {"type": "utterance", "call_id": SURROGATE, "seq": SURROGATE})
            assert err["type"] == "error" and err["call_id"] == "\ufffd" and err["seq"] == "\ufffd"
            err = await send(cti, {"type": "nope", "call_id": SURROGATE})
            assert err["type"] == "error" and err["call_id"] == "\ufffd"
            assert (await send(cti, start("after", "a7")))["type"] == "ack"

    run(scenario())


def test_a_call_log_that_fails_to_write_fails_the_acks_and_healthz_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        config = ServerConfig(port=0, tokens=TOKENS, log=CallLogSettings(path=str(tmp_path / "calls.db")))
        async with AssistServer(config, rules()) as srv:
            cti = await ingest(srv)
            assert (await send(cti, start("w1", "a7", seq=1)))["type"] == "ack"
            assert srv.calllog is not None
            # a row no encoder can write (as a bug past the boundary would make): not an sqlite3.Error
            srv.calllog.inbound("w1", "note", None, None, "broken" + SURROGATE)
            await cti.send(json.dumps(say("w1", "customer", "hello", 1000, seq=2)))
            await asyncio.wait_for(cti.wait_closed(), 5)
            assert cti.close_code == 1011
            status, body = await health(srv)
            assert status == 503 and body["status"] == "failing" and "call log" in body["problems"][0]
            # the next transaction goes through (the failed one was rolled back), and health recovers
            fresh = await ingest(srv)
            assert (await send(fresh, say("w1", "customer", "hello", 1000, seq=2)))["type"] == "ack"
            assert (await health(srv))[0] == 200
            assert (await send(fresh, end("w1", 2000, seq=3)))["type"] == "ack"

    run(scenario())


HOSTILE_JSON = ["[" * 100_000, "{\"a\":" * 50_000 + "1" + "}" * 50_000, "1" * 5_000,
                '{"type":"call.start","call_id":"x","t_ms":' + "9" * 5_000 + "}", '"\\ud800', "\xff"]


def test_hostile_json_is_answered_invalid_json_and_every_connection_stays() -> None:
    async def scenario() -> None:
        async with server(max_message_bytes=1 << 20) as srv:
            cti = await ingest(srv)
            a7 = await agent(srv, "a7")
            sup = await connect(ws_url(srv, "/supervisor", "sup-secret"))
            assert (await recv(sup))["kind"] == "state"
            for frame in HOSTILE_JSON:
                await cti.send(frame)
                err = await recv(cti)
                assert err["type"] == "error" and err["code"] in ("invalid_json", "invalid"), err
                await a7.send(frame)
                assert (await recv(a7))["kind"] == "error"
                await sup.send(frame)
                assert (await recv(sup))["kind"] == "error"
            assert (await send(cti, start("j1", "a7")))["type"] == "ack"
            await recv_until(a7, lambda m: m.get("call_id") == "j1")

    run(scenario())
