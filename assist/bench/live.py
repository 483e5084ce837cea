"""End-to-end latency of the live server against a bare websockets relay, measured in one run, and
the longest event-loop stall in the server process meanwhile.

`run_e2e_bench(calls, seconds)`: `calls` concurrent calls stream into /ingest at real-call rate (see
`assist.bench.loadgen`); the time from sending an agent's line to its prompt arriving on that agent's
/agent socket is measured. The same script then goes through a relay that only forwards each ingest
message to the call's agent socket. Everything is on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from assist.bench.loadgen import CALLS_PER_INGEST, Latencies, measure
from assist.bench.stats import percentile
from assist.server import eventloop
from assist.server.app import AssistServer
from assist.server.config import CallLogSettings, Limits, ServerConfig, Tokens
from assist.server.eventloop import loop_name

LAG_INTERVAL_S = 0.005


class LoopLag:
    """How late the event loop wakes a task that asks to sleep LAG_INTERVAL_S: a stall of the loop
    (a long callback, a collection, page faults) shows as one late wake-up of its length. Beside it,
    the CPU time this process used meanwhile: a stall with little CPU is the machine (other processes
    had the cores), one with as much CPU as wall time is this process's own work."""

    def __init__(self) -> None:
        self.wakes: list[tuple[float, float, float]] = []  # (monotonic time of the wake-up, ms late, CPU ms)

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked, cpu = loop.time(), time.process_time()
            await asyncio.sleep(LAG_INTERVAL_S)
            woke = loop.time()
            self.wakes.append((woke, (woke - asked - LAG_INTERVAL_S) * 1000, (time.process_time() - cpu) * 1000))

    def longest(self, start: float, end: float) -> tuple[float, float]:
        """The longest stall that ended between `start` and `end` (monotonic seconds): ms late, and
        the CPU ms this process used during it."""
        inside = [(late, cpu) for at, late, cpu in self.wakes if start <= at <= end]
        return max(inside, default=(0.0, 0.0))

    def max_ms(self, start: float, end: float) -> float:
        return self.longest(start, end)[0]

    def cpu_ms(self, start: float, end: float) -> float:
        """CPU ms this process used between `start` and `end` (monotonic seconds)."""
        return sum(cpu for at, _, cpu in self.wakes if start <= at <= end)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LoopLag]:
        task = asyncio.create_task(self.watch())
        try:
            yield self
        finally:
            task.cancel()


Run = Callable[[int], Awaitable[Latencies]]
LoadedRun = Callable[[int, Callable[[], None]], Awaitable[Latencies]]  # port, what to run with sockets open


async def _with_relay(run: Run) -> tuple[Latencies, float]:
    """A bare relay: each /ingest message goes to the socket of the call's agent, nothing else."""
    agent_of: dict[str, str] = {}
    sockets: dict[str, ServerConnection] = {}

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        auth = ws.request.headers.get("Authorization", "")
        if ws.request.path.startswith("/agent"):
            agent_id = "a" + auth.removeprefix("Bearer t")
            sockets[agent_id] = ws
            await ws.wait_closed()
            return
        async for raw in ws:
            ev = json.loads(raw)
            if ev["type"] == "call.start":
                agent_of[ev["call_id"]] = ev["agent_id"]
            target = sockets.get(agent_of.get(ev["call_id"], ""))
            if target is not None:
                await target.send(raw)

    async with serve(handler, "127.0.0.1", 0, compression=None) as relay, LoopLag().running() as lag:
        got = await run(relay.sockets[0].getsockname()[1])
    return got, lag.max_ms(got.measured_from, got.until)


def server_config(calls: int, log_path: str | None = None) -> ServerConfig:
    """The server every live stage runs: a token per agent, room for `calls` calls, no rate limit."""
    tokens = Tokens(cti="cti", agents={f"a{i}": f"t{i}" for i in range(calls)})
    limits = Limits(max_calls=calls + 100, max_events_per_s=1_000_000, queue_size=256,
                    connections_per_token=max(32, calls // CALLS_PER_INGEST + 8))  # the generator's CTI links
    return ServerConfig(port=0, tokens=tokens, limits=limits, log=CallLogSettings(path=log_path))


@dataclass(frozen=True)
class ServerRun:
    """What the server did under one generator run: its longest loop stall and its CPU time."""

    latencies: Latencies
    stall_ms: float
    stall_cpu_ms: float   # CPU the server used during that stall
    cpu_us_per_event: float  # the server's CPU time in the measured window per event sent in it
    event_loop: str
    cpu_s: float = 0.0       # the server's CPU seconds in the measured window
    gc_full_ms: float = 0.0  # one full collection with the run's calls and sockets still open
    gc_walk_all_ms: float = 0.0  # a collection of everything, the frozen objects too (a gctune refresh)

    @property
    def cpu_cores(self) -> float:
        """The server's CPU seconds per second of the measured window."""
        return self.cpu_s / max(1e-9, self.latencies.until - self.latencies.measured_from)

    @property
    def other_cpu_cores(self) -> float:
        """What other processes on the machine used meanwhile, in cores (over 0 means less than the
        machine for the server and the generator)."""
        spent = self.latencies.machine_cpu_s - self.cpu_s - self.latencies.cpu_s  # NaN off Linux
        window = max(1e-9, self.latencies.until - self.latencies.measured_from)
        return spent if math.isnan(spent) else max(0.0, spent) / window

    @property
    def loadgen_cpu_cores(self) -> float:
        """The load generator's CPU seconds per second of the same window."""
        return self.latencies.cpu_s / max(1e-9, self.latencies.until - self.latencies.measured_from)


async def with_assist(config: ServerConfig, run: LoadedRun) -> ServerRun:
    """Run the generator against a fresh AssistServer; the full collection is timed once the measured
    window is over, with the generator's sockets still open."""
    gc_ms: list[float] = []
    async with AssistServer(config) as server, LoopLag().running() as lag:
        got = await run(server.port, lambda: gc_ms.extend((full_collection_ms(server), walk_all_ms())))
    stall, stall_cpu = lag.longest(got.measured_from, got.until)
    cpu_ms = lag.cpu_ms(got.measured_from, got.until)
    cpu_us = cpu_ms * 1000 / got.events if got.events else float("nan")
    full_ms, walk_ms = gc_ms if gc_ms else (float("nan"), float("nan"))
    return ServerRun(got, stall, stall_cpu, cpu_us, loop_name(), cpu_ms / 1000, full_ms, walk_ms)


def full_collection_ms(server: AssistServer | None = None) -> float:
    """The pause of the server's timed full collection now (`QuietGC.full`, or one `gc.collect()` when
    the server runs without it), in ms of wall time.

    The server runs its full collections on a timer (`gc_full_every_s`, 300 s by default), never in
    the middle of a few seconds' run, so the measured window does not meet one; but a sidebar does,
    once every few minutes, and its length grows with the calls open. Measured here right after the
    generator's measured window, with its calls and sockets (sidebars, /ingest links) still open in
    the server. What survives a tenth of a second is frozen (server/gctune.py), so this walks only
    the young objects; `walk_all_ms` is what walking everything costs."""
    quiet = server._gc if server is not None else None
    if quiet is not None:
        return quiet.full() * 1000
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


def walk_all_ms() -> float:
    """The pause of a collection of everything, frozen objects included (what `QuietGC.refresh` does
    when closed sockets' garbage passes its bound, and what the timed full collection cost before
    objects were frozen), in ms of wall time."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return (time.perf_counter() - started) * 1000


def run_server(config: ServerConfig, run: LoadedRun) -> ServerRun:
    """`with_assist` on the event loop `assist serve` would use with this config."""
    return eventloop.run(with_assist(config, run), use_uvloop=config.uvloop)


def run_e2e_bench(calls: int = 1000, seconds: float = 20.0) -> dict[str, Any]:
    """Latency p50/p99 in ms of the full server and of a bare relay, same load, same run.

    Returns e2e_p50_ms, e2e_p99_ms, relay_p50_ms, relay_p99_ms, e2e_vs_relay_p99, sample counts,
    loop_stall_max_ms / relay_loop_stall_max_ms (the longest event-loop stall of each server), and
    loop_stall_cpu_ms (the CPU time the server used during its longest stall), server_cpu_us_per_event
    (the server's CPU time per event received: robust to other load on the machine), event_loop,
    e2e_lost_prompts / relay_lost (measured lines that never arrived; not in the percentiles) and
    server_cpu_cores / loadgen_cpu_cores / other_cpu_cores (CPU seconds per second of the e2e run's
    window: the server, the generator, every other process on the machine) and gc_full_ms (the
    pause of the server's timed full collection with these calls and sockets open: `full_collection_ms`)
    and gc_walk_all_ms (a collection of everything, frozen objects too: `walk_all_ms`)."""
    config = server_config(calls)
    relay, relay_stall = eventloop.run(_with_relay(lambda port: measure("relay", port, calls, seconds)),
                                       use_uvloop=config.uvloop)
    server = run_server(config, lambda port, while_open: measure("e2e", port, calls, seconds, while_open))
    e2e = server.latencies
    out: dict[str, Any] = {
        "e2e_p50_ms": percentile(e2e.samples, 0.50), "e2e_p99_ms": percentile(e2e.samples, 0.99),
        "relay_p50_ms": percentile(relay.samples, 0.50), "relay_p99_ms": percentile(relay.samples, 0.99)}
    out["e2e_vs_relay_p99"] = out["e2e_p99_ms"] / out["relay_p99_ms"] if relay.samples else float("nan")
    out["e2e_samples"], out["relay_samples"] = float(len(e2e.samples)), float(len(relay.samples))
    out["loop_stall_max_ms"], out["loop_stall_cpu_ms"] = server.stall_ms, server.stall_cpu_ms
    out["relay_loop_stall_max_ms"] = relay_stall
    out["server_cpu_us_per_event"] = server.cpu_us_per_event
    out["e2e_lost_prompts"], out["relay_lost"] = float(e2e.lost), float(relay.lost)
    out["server_cpu_cores"], out["loadgen_cpu_cores"] = server.cpu_cores, server.loadgen_cpu_cores
    out["other_cpu_cores"] = server.other_cpu_cores
    out["gc_full_ms"] = server.gc_full_ms
    out["gc_walk_all_ms"] = server.gc_walk_all_ms
    figures: dict[str, Any] = {k: round(v, 3) for k, v in out.items()}
    figures["event_loop"] = server.event_loop
    return figures
