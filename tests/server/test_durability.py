"""Fault test: 200 concurrent calls stream into `assist serve --log` (a subprocess); it is SIGKILLed
in the middle and restarted on the same log; the CTI clients reconnect and resend from their last
ack (and the last acked event once more). Every call's prompts must equal an uninterrupted replay
of the same input through the engine: nothing lost, nothing doubled, same ids."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from replaykit import Script, expected_prompts, scripted_calls
from serverkit import run
from serverproc import CTI, ServerProcess, agent_token, free_port, write_config
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from assist.server.calllog import CallLog

CALLS = 200
TURNS = 16
CALLS_PER_CONNECTION = 20
AGENTS = 50
PACE_S = 0.08          # between rounds of one event per call on a connection
KILL_AT = 0.4          # share of all events acknowledged when the server is killed
SIDEBARS = 10          # agents a0..a9 watch their calls through the crash

def scripts() -> dict[str, Script]:
    """Each call's events in order, with seq 1..n."""
    return scripted_calls(CALLS, TURNS, "f")


class Cti:
    """One CTI connection carrying some calls; on any connection loss it reconnects and resends
    everything after its last ack, plus the last acked event again (which must come back duplicate)."""

    def __init__(self, url: str, calls: dict[str, Script]):
        self.url, self.calls = url, calls
        self.acked = {cid: 0 for cid in calls}  # events acknowledged, a prefix of each script
        self.duplicates = 0
        self.reconnects = 0
        self.refused: list[dict[str, Any]] = []

    async def run(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            try:
                async with connect(self.url, additional_headers={"Authorization": f"Bearer {CTI}"},
                                   open_timeout=5, close_timeout=1) as ws:
                    if await self._stream(ws):
                        return
            except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError):
                self.reconnects += 1
                await asyncio.sleep(0.1)
        raise TimeoutError("the CTI client did not finish before the deadline")

    async def _stream(self, ws: ClientConnection) -> bool:
        pos = {cid: max(0, n - 1) if self.reconnects else n for cid, n in self.acked.items()}
        while True:
            batch = [(cid, self.calls[cid][i]) for cid, i in pos.items() if i < len(self.calls[cid])]
            if not batch:
                return True
            await ws.send(json.dumps([ev for _, ev in batch]))
            for cid, ev in batch:
                reply = json.loads(await ws.recv())
                if reply.get("type") != "ack" or reply.get("seq") != ev["seq"] or reply.get("call_id") != cid:
                    self.refused.append(reply)
                    continue
                self.duplicates += bool(reply.get("duplicate"))
                self.acked[cid] = max(self.acked[cid], ev["seq"])
                pos[cid] = ev["seq"]
            await asyncio.sleep(PACE_S)


async def watch(url: str, agent_id: str, seen: list[dict[str, Any]], stop: asyncio.Event) -> None:
    """A sidebar that reconnects after the crash; keeps every prompt it was sent or shown in a state."""
    while not stop.is_set():
        try:
            async with connect(f"{url}?token={agent_token(agent_id)}", open_timeout=5) as ws:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg["kind"] == "prompt":
                        seen.append(msg)
                    elif msg["kind"] == "state":
                        seen.extend(p for c in msg["calls"] for p in c["prompts"])
        except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError):
            await asyncio.sleep(0.1)


def test_sigkill_in_the_middle_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    calls = scripts()
    expected = expected_prompts(calls)
    assert sum(map(len, expected.values())) > CALLS  # the workload really raises prompts
    total = sum(map(len, calls.values()))
    port, db = free_port(), tmp_path / "calls.db"
    config = write_config(tmp_path / "assist.yaml", AGENTS)
    server = ServerProcess(config, db, port, tmp_path / "serve.log")

    async def scenario() -> tuple[list[Cti], list[dict[str, Any]]]:
        await server.start()
        loop = asyncio.get_running_loop()
        ids = sorted(calls)
        clients = [Cti(f"ws://127.0.0.1:{port}/ingest",
                       {cid: calls[cid] for cid in ids[i:i + CALLS_PER_CONNECTION]})
                   for i in range(0, CALLS, CALLS_PER_CONNECTION)]
        seen: list[dict[str, Any]] = []
        stop = asyncio.Event()
        sidebars = [asyncio.create_task(watch(f"ws://127.0.0.1:{port}/agent", f"a{i}", seen, stop))
                    for i in range(SIDEBARS)]
        streams = asyncio.gather(*(c.run(loop.time() + 120) for c in clients))
        while sum(sum(c.acked.values()) for c in clients) < KILL_AT * total:
            await asyncio.sleep(0.01)
        server.kill()
        acked_at_kill = sum(sum(c.acked.values()) for c in clients)
        assert acked_at_kill < total, "every event was acknowledged before the kill: nothing was tested"
        await server.start()
        await streams
        await asyncio.sleep(0.5)  # the last prompts reach the sidebars
        stop.set()
        for task in sidebars:
            task.cancel()
        await asyncio.gather(*sidebars, return_exceptions=True)
        health = await server.health()
        assert health["open_calls"] == 0
        server.stop()
        return clients, seen

    try:
        clients, seen = run(scenario(), timeout=240)
    finally:
        server.stop()
    assert [r for c in clients for r in c.refused] == []
    assert all(c.reconnects >= 1 for c in clients)
    assert sum(c.duplicates for c in clients) >= CALLS  # each call resent at least its last acked event
    assert "recovered" in server.stderr()

    log = CallLog(db, checkpoint_s=None)
    try:
        for call_id, want in expected.items():
            got = [(o["id"], o["rule"], o["t_ms"], o["say"]) for o in log.events(call_id, outbound=True)
                   if o["kind"] == "prompt"]
            assert got == want, f"call {call_id}: logged prompts differ from an uninterrupted replay"
            inbound = Counter(e["seq"] for e in log.events(call_id))
            assert inbound == Counter(range(1, len(calls[call_id]) + 1)), f"call {call_id}: events lost or doubled"
        assert log.stats()["open_calls"] == 0
    finally:
        log.close()
    # what sidebars were shown is a subset of the expected prompts, with the same content
    by_id = {p[0]: p for ps in expected.values() for p in ps}
    for msg in seen:
        assert by_id[msg["id"]] == (msg["id"], msg["rule"], msg["t_ms"], msg["say"])
    assert len({m["id"] for m in seen}) > 0
