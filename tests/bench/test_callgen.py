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


def test_what_is_measured_after_the_window_sees_every_socket_still_open() -> None:
    """The bench times the full collection between the measured window and the generator's closing:
    the pause a sidebar meets every few minutes is the one with every call's sockets open."""
    from assist.bench.loadgen import measure

    seen: list[dict[str, int]] = []

    async def main() -> dict[str, int]:
        async with AssistServer(server_config(CALLS)) as server:
            def while_open() -> None:
                seen.append(dict(server.health()["connections"]))

            await asyncio.wait_for(measure("e2e", server.port, CALLS, SECONDS, while_open), 60)
            for _ in range(200):  # the generator closed its sockets on its way out
                if not any(server.health()["connections"].values()):
                    break
                await asyncio.sleep(0.05)
            return dict(server.health()["connections"])

    after = asyncio.run(main())
    assert len(seen) == 1  # it ran once
    assert seen[0].get("agent") == CALLS and seen[0].get("cti", 0) >= 1  # every sidebar and the /ingest link open
    assert not any(after.values())  # and then the generator let them go
