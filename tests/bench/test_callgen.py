"""The `calls` load generator against the real server and the bare relay on loopback: every
measured line is either a latency sample or counted lost, never silently left out of the percentile."""

from __future__ import annotations

import asyncio
from typing import Any

from assist.bench.callgen import run_calls
from assist.bench.live import _with_relay, server_config
from assist.bench.loadgen import Latencies
from assist.server.app import AssistServer

CALLS, SECONDS = 6, 4.5  # every call sends its measured line (at 2-4 s) inside the run


async def through_server(mode: str) -> dict[str, Any]:
    async with AssistServer(server_config(CALLS)) as server:
        return await run_calls(mode, server.port, CALLS, SECONDS, warmup=0.0)


async def through_relay(mode: str) -> dict[str, Any]:
    got: dict[str, Any] = {}

    async def run(port: int) -> Latencies:
        got.update(await run_calls(mode, port, CALLS, SECONDS, warmup=0.0))
        return Latencies.of(got)

    await _with_relay(run)
    return got


def test_every_measured_line_is_a_sample_or_counted_lost() -> None:
    async def main() -> list[dict[str, Any]]:
        return await asyncio.wait_for(asyncio.gather(
            through_server("e2e"), through_relay("relay"), through_relay("e2e")), 30)

    e2e, relay, no_prompts = asyncio.run(main())
    assert (len(e2e["samples"]), e2e["lost"]) == (CALLS, 0), e2e  # the server raises every prompt
    assert (len(relay["samples"]), relay["lost"]) == (CALLS, 0), relay  # the relay forwards every line
    assert (no_prompts["samples"], no_prompts["lost"]) == ([], CALLS)  # a relay raises no prompt: all lost
    for got in (e2e, relay, no_prompts):
        assert got["events_sent"] == got["events"] > CALLS and got["refused"] == 0
    assert e2e["answers"] == e2e["events"]  # one ack per event
