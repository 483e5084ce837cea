"""SIGTERM / SIGINT stop `assist serve` gracefully: the events in hand are finished and acknowledged
once logged, every client gets close 1001, the process exits 0 within its stop timeout, and open calls
stay open in the call log for the next start."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path

import pytest
from serverkit import ANGRY, SORRY, run
from serverproc import CTI, ServerProcess, agent_token, free_port, write_config
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from assist.server.calllog import CallLog

EVENTS = 400


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_finishes_the_events_in_hand_and_closes_every_client_with_1001(
        tmp_path: Path, sig: signal.Signals) -> None:
    port, db = free_port(), tmp_path / "calls.db"
    proc = ServerProcess(write_config(tmp_path / "assist.yaml", 1, stop_timeout_s=5), db, port,
                         tmp_path / "serve.log")

    async def scenario() -> tuple[set[int], int | None, int | None]:
        await proc.start()
        sidebar = await connect(f"ws://127.0.0.1:{port}/agent?token={agent_token('a0')}")
        ws = await connect(f"ws://127.0.0.1:{port}/ingest", additional_headers={"Authorization": f"Bearer {CTI}"})
        await ws.send(json.dumps({"type": "call.start", "call_id": "c1", "agent_id": "a0", "lang": "en",
                                  "t_ms": 0, "seq": 1}))
        sent = 1

        async def keep_sending() -> None:  # until the server goes away: the signal comes mid-stream
            nonlocal sent
            with contextlib.suppress(ConnectionClosed):
                for seq in range(2, EVENTS + 1):
                    text = ANGRY if seq % 2 else SORRY
                    await ws.send(json.dumps({"type": "utterance", "call_id": "c1", "speaker": "customer"
                                              if seq % 2 else "agent", "text": text, "start_ms": seq * 1000,
                                              "end_ms": seq * 1000 + 900, "seq": seq}))
                    sent = seq
                    if seq == 50:
                        assert proc.proc is not None
                        proc.proc.send_signal(sig)
                    await asyncio.sleep(0.005)

        sending = asyncio.create_task(keep_sending())
        acked: set[int] = set()
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                reply = json.loads(message)
                assert reply["type"] == "ack", reply
                acked.add(reply["seq"])
        await sending
        assert sent < EVENTS, "the server never stopped taking events"
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(10):
                async for _ in sidebar:
                    pass
        return acked, ws.close_code, sidebar.close_code

    try:
        acked, ingest_code, sidebar_code = run(scenario(), timeout=60)
        assert proc.proc is not None
        assert proc.proc.wait(timeout=10) == 0  # well within stop_timeout_s + start-up slack
    finally:
        proc.stop()
    assert ingest_code == 1001 and sidebar_code == 1001
    assert 1 in acked
    log = CallLog(db, checkpoint_s=None)
    try:
        logged = {e["seq"] for e in log.events("c1")}
        assert logged == acked  # every event taken was finished and acknowledged; none half-way
        assert log.stats()["open_calls"] == 1  # the call goes on after the restart
    finally:
        log.close()
    assert '"stopped"' in proc.stderr() or "stopped" in proc.stderr()
