"""`vendor_live_vs_native`: what reading a vendor's own stream costs the live server.

The same call (examples/formats/deepgram_streaming_en.jsonl: Deepgram live `Results` with interim results)
is sent to /ingest `rounds` times in each form, alternating: as the Deepgram messages themselves
(`?format=deepgram`, read by the replay reader, acks by message index) and as the native events that reader
makes of it. Both rates count the call's native events per second of wall time, so the ratio is the share
of native throughput a Deepgram link gets (1.0: the reader costs nothing).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import connect

from assist.bench.stats import median
from assist.bundle import EXAMPLES
from assist.formats import ReadOptions, read_file
from assist.server.app import AssistServer
from assist.server.config import Limits, ServerConfig, Tokens

STREAM = EXAMPLES / "formats" / "deepgram_streaming_en.jsonl"
PARAMS = {"agent_speaker": "0", "lang": "en", "agent_id": "a0"}
CONCURRENT = 20  # connections at a time, one call each


def _call() -> tuple[list[str], list[dict[str, Any]]]:
    """The Deepgram messages of the example call, and the native events replay reads from them."""
    messages = [ln for ln in STREAM.read_text(encoding="utf-8").splitlines() if ln.strip()]
    opts = ReadOptions(call_id="x", lang="en", agent_id="a0", agent_speaker="0")
    events = [i.event for i in read_file(STREAM, "deepgram", opts) if i.event is not None]
    return messages, events


async def _send(url: str, lines: list[str]) -> None:
    async with connect(url, additional_headers={"Authorization": "Bearer cti"}, compression=None) as ws:
        for line in lines:
            await ws.send(line)
        for _ in lines:  # every message is answered (ack or error), in order
            await ws.recv()


async def _round(server: AssistServer, calls: int, vendor: bool, tag: str,
                 messages: list[str], events: list[dict[str, Any]]) -> float:
    base = server.url("/ingest", scheme="ws")
    gate = asyncio.Semaphore(CONCURRENT)

    async def one(i: int) -> None:
        call_id = f"{tag}-{i}"
        if vendor:
            url, lines = f"{base}?{urlencode({'format': 'deepgram', 'call_id': call_id, **PARAMS})}", messages
        else:
            url, lines = base, [json.dumps({**e, "call_id": call_id}) for e in events]
        async with gate:
            await _send(url, lines)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return calls * len(events) / (time.perf_counter() - started)


async def _measure(calls: int, rounds: int) -> dict[str, float]:
    messages, events = _call()
    config = ServerConfig(port=0, tokens=Tokens(cti="cti"), tick_interval_s=3600,
                          limits=Limits(max_calls=calls * 2 * rounds + 100, max_events_per_s=1_000_000))
    native: list[float] = []
    deepgram: list[float] = []
    async with AssistServer(config) as server:
        for r in range(rounds):  # alternating, so a busy moment on the machine hits both
            native.append(await _round(server, calls, False, f"n{r}", messages, events))
            deepgram.append(await _round(server, calls, True, f"d{r}", messages, events))
    n, d = median(native), median(deepgram)
    return {"native_events_per_s": round(n, 1), "deepgram_events_per_s": round(d, 1),
            "vendor_live_vs_native": round(d / n, 3)}


def vendor_live_vs_native(calls: int = 200, rounds: int = 3) -> dict[str, float]:
    """Events/s of the example Deepgram call sent live as Deepgram messages and as native events, and
    their ratio (median of `rounds` alternating rounds of `calls` calls each)."""
    return asyncio.run(_measure(calls, rounds))
