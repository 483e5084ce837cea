"""Vendor streams on /ingest?format=…: every examples/formats stream sent live raises what replay raises."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from serverkit import end, recv, recv_until, rules, run, send, server, start, ws_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from assist.core.events import Utterance
from assist.replay import Step, replay
from assist.server.app import AssistServer

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ROOT / "examples/formats"
# file → (format, the query's call metadata: the replay options that file needs)
STREAMS: dict[str, tuple[str, dict[str, str]]] = {
    "deepgram_streaming_en.jsonl": ("deepgram", {"agent_speaker": "0", "lang": "en"}),
    "transcribe_streaming_en.jsonl": ("transcribe-streaming", {"agent_channel": "ch_1"}),
    "lca_zh.jsonl": ("lca", {}),
}
QUIET = {"tick_interval_s": 3600.0}  # no live clock ticks: event time alone, as in replay


def replayed(name: str) -> list[dict[str, Any]]:
    fmt, params = STREAMS[name]
    steps = replay([FORMATS / name], rules(), fmt=fmt, lang=params.get("lang"),
                   agent_channel=params.get("agent_channel"), agent_speaker=params.get("agent_speaker"))
    return [o.to_dict() for s in steps if isinstance(s, Step) for o in s.outputs if o.kind != "summary"]


async def vendor(srv: AssistServer, fmt: str, **params: str) -> ClientConnection:
    query = urlencode({"format": fmt, **params})
    return await connect(ws_url(srv, "/ingest") + "?" + query,
                         additional_headers={"Authorization": "Bearer cti-secret"})


async def answers(ws: ClientConnection, n: int) -> dict[int, dict[str, Any]]:
    """Read until every message index below `n` has an answer (ack or error)."""
    got: dict[int, dict[str, Any]] = {}
    while len(got) < n:
        msg = await recv(ws)
        got.setdefault(msg["index"], msg)
    return got


async def outputs_until_summary(sup: ClientConnection, calls: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    summaries = 0
    while summaries < calls:
        msg = await recv(sup)
        summaries += msg["kind"] == "summary"
        if msg["kind"] not in ("call", "summary"):
            out.append(msg)
    return out


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_every_example_stream_sent_live_raises_what_replay_raises(name: str) -> None:
    fmt, params = STREAMS[name]
    lines = [ln for ln in (FORMATS / name).read_text(encoding="utf-8").splitlines() if ln.strip()]
    call_id = Path(name).stem

    async def go() -> list[dict[str, Any]]:
        async with server(**QUIET) as srv:
            sup = await connect(ws_url(srv, "/supervisor", "sup-secret"))
            assert (await recv(sup))["kind"] == "state"
            ws = await vendor(srv, fmt, call_id=call_id, agent_id="a7", **params)
            for line in lines:
                await ws.send(line)  # pipelined: answers are read after
            got = await answers(ws, len(lines))
            assert all(a["type"] == "ack" for a in got.values()), [a for a in got.values() if a["type"] != "ack"]
            await ws.close()  # normal close: the call ends (LCA ends its calls with END anyway)
            out = await outputs_until_summary(sup, 1)
            await sup.close()
            return out

    live = run(go())
    expected = replayed(name)
    assert [p for p in expected if p["kind"] == "prompt"], "the example raises prompts"
    assert live == expected


def test_a_bad_vendor_message_gets_an_error_naming_the_field_and_the_call_goes_on() -> None:
    lines = (FORMATS / "deepgram_streaming_en.jsonl").read_text(encoding="utf-8").splitlines()

    async def go() -> None:
        async with server(**QUIET) as srv:
            ws = await vendor(srv, "deepgram", call_id="c1", agent_speaker="0")
            await ws.send(json.dumps({"type": "Results", "channel_index": [0, 1], "start": "soon",
                                      "duration": 1.0, "is_final": True, "channel": {"alternatives": []}}))
            err = await recv(ws)
            assert err["type"] == "error" and err["index"] == 0
            assert (err["field"], err["expected"], err["got"]) == ("start", "seconds", "'soon'")
            await ws.send("not json")
            err = await recv(ws)
            assert err["index"] == 1 and err["expected"] == "a JSON object" and "message 1" in err["message"]
            await ws.send(json.dumps({"type": "Weather"}))
            err = await recv(ws)
            assert err["index"] == 2 and err["field"] == "type" and err["got"] == "'Weather'"
            for line in lines:
                await ws.send(line)
            got = await answers(ws, len(lines))
            assert {a["type"] for a in got.values()} == {"ack"} and sorted(got) == list(range(3, 3 + len(lines)))
            assert "c1" in srv.hub.calls
            await ws.close()

    run(go())


def test_missing_call_metadata_refuses_the_handshake_naming_the_parameter() -> None:
    async def go() -> None:
        async with server(**QUIET) as srv:
            for fmt, params, needle in [("deepgram", {"agent_speaker": "0"}, b"'call_id'"),
                                        ("transcribe-streaming", {"call_id": "c1"}, b"agent_channel or agent_speaker"),
                                        ("smoke-signals", {}, b"expected one of native, deepgram"),
                                        ("lca", {"agent_chanel": "1"}, b"'agent_chanel'")]:
                with pytest.raises(InvalidStatus) as info:
                    await vendor(srv, fmt, **params)
                assert info.value.response.status_code == 400
                assert needle in info.value.response.body

    run(go())


def test_an_abnormal_close_leaves_the_call_open_and_a_new_connection_resumes_it() -> None:
    lines = (FORMATS / "transcribe_streaming_en.jsonl").read_text(encoding="utf-8").splitlines()
    half = len(lines) // 2

    async def go() -> list[dict[str, Any]]:
        async with server(**QUIET) as srv:
            sup = await connect(ws_url(srv, "/supervisor", "sup-secret"))
            assert (await recv(sup))["kind"] == "state"
            params = {"call_id": "transcribe_streaming_en", "agent_id": "a7", "agent_channel": "ch_1"}
            ws = await vendor(srv, "transcribe-streaming", **params)
            for line in lines[:half]:
                await ws.send(line)
            acked = max(i for i, a in (await answers(ws, half)).items() if a["type"] == "ack")
            ws.transport.abort()  # the link drops: no close frame
            await asyncio.sleep(0.2)
            assert "transcribe_streaming_en" in srv.hub.calls
            ws = await vendor(srv, "transcribe-streaming", first_index=str(acked - 2), **params)
            for line in lines[acked - 2:]:  # a client resending a little more than it must
                await ws.send(line)
            got = await answers(ws, len(lines) - acked + 2)
            assert sorted(got) == list(range(acked - 2, len(lines)))
            await ws.close()
            return await outputs_until_summary(sup, 1)

    assert run(go()) == replayed("transcribe_streaming_en.jsonl")


def test_a_final_after_its_partials_is_applied_and_a_resent_final_is_a_duplicate() -> None:
    def utt(text: str, final: bool) -> dict[str, Any]:
        return Utterance(type="utterance", call_id="c1", speaker="customer", text=text, start_ms=0,
                         end_ms=3000, final=final, utterance_id="u1").model_dump(exclude_none=True)

    async def go() -> None:
        async with server(**QUIET) as srv:
            sup = await connect(ws_url(srv, "/supervisor", "sup-secret"))
            assert (await recv(sup))["kind"] == "state"
            ws = await connect(ws_url(srv, "/ingest"), additional_headers={"Authorization": "Bearer cti-secret"})
            assert (await send(ws, start("c1")))["type"] == "ack"
            assert "duplicate" not in await send(ws, utt("This is", False))
            assert "duplicate" not in await send(ws, utt("This is ridiculous, I've waited two weeks!", True))
            assert (await send(ws, utt("This is ridiculous, I've waited two weeks!", True)))["duplicate"] is True
            assert (await send(ws, utt("This is", False)))["duplicate"] is True
            assert (await send(ws, end("c1", 4000)))["type"] == "ack"
            summary, _ = await recv_until(sup, lambda m: m["kind"] == "summary")
            assert summary["utterances"] == 1  # the final, once
            await ws.close()

    run(go())


def test_an_lca_ack_names_the_segment_ids_the_message_carried() -> None:
    lines = [ln for ln in (FORMATS / "lca_zh.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]
    segment = next(i for i, ln in enumerate(lines) if json.loads(ln)["EventType"] == "ADD_TRANSCRIPT_SEGMENT")

    async def go() -> dict[int, dict[str, Any]]:
        async with server(**QUIET) as srv:
            ws = await vendor(srv, "lca")
            for line in lines:
                await ws.send(line)
            got = await answers(ws, len(lines))
            await ws.close()
            return got

    got = run(go())
    assert got[segment]["utterance_ids"] == [str(json.loads(lines[segment])["SegmentId"])]
    assert "utterance_ids" not in got[0]  # START completes no utterance
