"""assist.client.IngestClient against a real `assist serve --log` that is SIGKILLed mid-stream and
restarted: the client reconnects by itself and resends what was not acknowledged; the call log then
holds every event once and the prompts of an uninterrupted replay."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from replaykit import expected_prompts
from serverkit import run, server
from serverproc import CTI, ServerProcess, free_port, write_config
from test_durability import scripts

from assist.client import IngestClient, IngestRefused
from assist.server.calllog import CallLog

CALLS = 40
PACE_S = 0.03  # between rounds of one event per call


def test_the_client_survives_a_sigkill_and_restart_with_nothing_lost_or_doubled(tmp_path: Path) -> None:
    calls = dict(sorted(scripts().items())[:CALLS])
    plain = {cid: [{k: v for k, v in ev.items() if k != "seq"} for ev in evs] for cid, evs in calls.items()}
    expected = expected_prompts(calls)
    total = sum(map(len, calls.values()))
    port, db = free_port(), tmp_path / "calls.db"
    proc = ServerProcess(write_config(tmp_path / "assist.yaml", 50), db, port, tmp_path / "serve.log")

    async def scenario() -> IngestClient:
        await proc.start()
        client = IngestClient(f"ws://127.0.0.1:{port}/ingest", CTI, backoff_s=(0.05, 0.5))
        await client.start()
        rounds = max(map(len, plain.values()))

        async def feed() -> None:
            for i in range(rounds):
                for events in plain.values():
                    if i < len(events):
                        await client.send(events[i])  # the client numbers them: seq 1, 2, … per call
                await asyncio.sleep(PACE_S)

        feeding = asyncio.create_task(feed())
        async with asyncio.timeout(60):
            while client.acked < 0.4 * total:
                await asyncio.sleep(0.005)
        proc.kill()
        assert client.acked < total, "everything was acknowledged before the kill: nothing was tested"
        await proc.start()
        await feeding
        await asyncio.wait_for(client.drain(), 60)
        await client.close()
        proc.stop()
        return client

    try:
        client = run(scenario(), timeout=180)
    finally:
        proc.stop()
    assert client.errors == [] and client.reconnects >= 1 and not client.pending
    assert client.acked == total
    log = CallLog(db, checkpoint_s=None)
    try:
        for call_id, want in expected.items():
            inbound = Counter(e["seq"] for e in log.events(call_id))
            assert inbound == Counter(range(1, len(calls[call_id]) + 1)), f"call {call_id}: lost or doubled"
            got = [(o["id"], o["rule"], o["t_ms"], o["say"]) for o in log.events(call_id, outbound=True)
                   if o["kind"] == "prompt"]
            assert got == want, f"call {call_id}: logged prompts differ from an uninterrupted replay"
    finally:
        log.close()


def test_errors_are_given_to_the_caller_and_a_wrong_token_is_refused_for_good() -> None:
    async def go() -> tuple[list[tuple[str, Any]], IngestClient]:
        replies: list[tuple[str, Any]] = []
        async with server() as srv:
            url = srv.url("/ingest", scheme="ws")
            async with IngestClient(url, "cti-secret", on_reply=lambda r, e: replies.append((r["type"], e["seq"]))
                                    ) as client:
                await client.send({"type": "call.start", "call_id": "c1", "agent_id": "a7", "t_ms": 0})
                await client.send({"type": "utterance", "call_id": "c1", "speaker": "boss", "text": "hi",
                                   "start_ms": 0, "end_ms": 10})
                await client.send({"type": "call.end", "call_id": "c1", "t_ms": 20})
            wrong = IngestClient(url, "not-the-token")
            try:
                await wrong.start()
            except IngestRefused as exc:
                assert "HTTP 403" in str(exc)
            else:
                raise AssertionError("a wrong token must be refused")
            return replies, client

    replies, client = run(go())
    assert replies == [("ack", 1), ("error", 2), ("ack", 3)]
    assert client.errors[0]["field"] == "speaker" and client.errors[0]["event"]["text"] == "hi"
