"""End-to-end latency of the live server against a bare websockets relay, measured in one run.

`run_e2e_bench(calls, seconds)`: `calls` concurrent calls stream into /ingest at real-call rate (one
final utterance every ~2 s per call); the time from sending the agent's "I'm sorry, can I have your
order number?" to its prompt arriving on that agent's /agent socket is measured. The same script then
goes through a relay that only forwards each ingest message to the call's agent socket. The load
generator runs in its own process (a subprocess: callers need no __main__ guard; see
notes/benchmarking.md); everything is on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from assist.server.app import AssistServer
from assist.server.config import Limits, ServerConfig, Tokens

STEP_S = 2.0          # one final utterance every 2 s per call
WARMUP_S = 2.0        # samples from the first seconds (connections settling) are not counted
CALLS_PER_INGEST = 50  # a CTI connection carries many calls
CONNECT_AT_ONCE = 50
MAX_SAMPLES = 1_000_000
MEASURED_STEP = 1
SCRIPT: list[tuple[str, str]] = [  # one call, 8 s: upset customer, agent apologises first → prompts
    ("customer", "This is ridiculous, I've waited two weeks!"),
    ("agent", "I'm sorry, can I have your order number?"),
    ("customer", "It's 58213."),
    ("agent", "Thank you, let me look at that for you now."),
]


def _events(slot: int, cycle: int, step: int) -> list[dict[str, Any]]:
    """The events call slot `slot` sends at `step` of its `cycle`-th call."""
    call_id = f"b{slot}-{cycle}"
    speaker, text = SCRIPT[step]
    end_ms = step * 2000 + 1500
    out: list[dict[str, Any]] = []
    if step == 0:
        out.append({"type": "call.start", "call_id": call_id, "lang": "en", "t_ms": 0,
                    "agent_id": f"a{slot}"})
    out.append({"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                "start_ms": end_ms - 1500, "end_ms": end_ms})
    if step == len(SCRIPT) - 1:
        out.append({"type": "call.end", "call_id": call_id, "t_ms": end_ms + 500})
    return out


# -- load generator (its own process) -----------------------------------------------------------------
async def _generate(mode: str, port: int, calls: int, seconds: float) -> list[float]:
    """Open every socket, stream the script for `seconds`, return latencies in ms."""
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def open_ws(path: str, token: str) -> ClientConnection:
        async with gate:
            return await connect(f"ws://127.0.0.1:{port}{path}", additional_headers={
                "Authorization": f"Bearer {token}"}, open_timeout=30, close_timeout=1)

    agents = await asyncio.gather(*(open_ws("/agent", f"t{i}") for i in range(calls)))
    n_ingest = max(1, calls // CALLS_PER_INGEST)
    ingests = await asyncio.gather(*(open_ws("/ingest", "cti") for _ in range(n_ingest)))
    gc.freeze()  # the sockets stay open for the whole run: no full collection need walk them
    sent: dict[tuple[str, int], float] = {}
    samples: list[float] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.5
    measure_from, deadline = t0 + WARMUP_S, t0 + seconds

    async def read_agent(ws: ClientConnection) -> None:
        async for raw in ws:
            now = loop.time()
            msg = json.loads(raw)
            if mode == "e2e" and msg.get("kind") != "prompt":
                continue
            t = msg.get("t_ms") if mode == "e2e" else msg.get("end_ms")
            at = sent.pop((msg.get("call_id", ""), t if isinstance(t, int) else -1), None)
            if at is not None and at >= measure_from and len(samples) < MAX_SAMPLES:
                samples.append((now - at) * 1000)

    async def drain(ws: ClientConnection) -> None:
        async for _ in ws:
            pass

    async def call_slot(slot: int) -> None:
        ws = ingests[slot % len(ingests)]
        start = t0 + random.uniform(0, STEP_S)  # spread the first sends so the run does not open with a burst
        for n in range(int(seconds / STEP_S) + 1):
            at = start + n * STEP_S
            if at >= deadline:
                return
            await asyncio.sleep(max(0.0, at - loop.time()))
            cycle, step = divmod(n, len(SCRIPT))
            for ev in _events(slot, cycle, step):
                if step == MEASURED_STEP and ev["type"] == "utterance":
                    sent[(ev["call_id"], ev["end_ms"])] = loop.time()
                await ws.send(json.dumps(ev))

    readers = [asyncio.create_task(read_agent(ws)) for ws in agents]
    readers += [asyncio.create_task(drain(ws)) for ws in ingests]
    await asyncio.gather(*(call_slot(i) for i in range(calls)))
    await asyncio.sleep(0.5)  # the last prompts are on their way
    for task in readers:
        task.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in [*agents, *ingests]),
                                              return_exceptions=True), 10)
    return samples


async def _measure(mode: str, port: int, calls: int, seconds: float) -> list[float]:
    """Run the load generator as its own process (`python -m assist.server.bench --generate …`)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assist.server.bench", "--generate", mode, str(port), str(calls), str(seconds),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds + 120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise TimeoutError(f"the {mode} load generator gave no result within {seconds + 120:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the {mode} load generator failed: {err.decode()[-2000:]}")
    samples: list[float] = json.loads(out)
    return samples


# -- the two servers -----------------------------------------------------------------------------------
async def _with_relay(calls: int, run: Callable[[int], Awaitable[list[float]]]) -> list[float]:
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

    async with serve(handler, "127.0.0.1", 0, compression=None) as relay:
        return await run(relay.sockets[0].getsockname()[1])


async def _with_assist(calls: int, run: Callable[[int], Awaitable[list[float]]]) -> list[float]:
    tokens = Tokens(cti="cti", agents={f"a{i}": f"t{i}" for i in range(calls)})
    limits = Limits(max_calls=calls + 100, max_events_per_s=100_000, queue_size=256)
    async with AssistServer(ServerConfig(port=0, tokens=tokens, limits=limits)) as server:
        return await run(server.port)


def _percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_e2e_bench(calls: int = 1000, seconds: float = 20.0) -> dict[str, float]:
    """Latency p50/p99 in ms of the full server and of a bare relay, same load, same run.

    Returns e2e_p50_ms, e2e_p99_ms, relay_p50_ms, relay_p99_ms, e2e_vs_relay_p99, and sample counts."""
    async def main() -> tuple[list[float], list[float]]:
        relay = await _with_relay(calls, lambda port: _measure("relay", port, calls, seconds))
        e2e = await _with_assist(calls, lambda port: _measure("e2e", port, calls, seconds))
        return relay, e2e

    relay, e2e = asyncio.run(main())
    out = {"e2e_p50_ms": _percentile(e2e, 0.50), "e2e_p99_ms": _percentile(e2e, 0.99),
           "relay_p50_ms": _percentile(relay, 0.50), "relay_p99_ms": _percentile(relay, 0.99)}
    out["e2e_vs_relay_p99"] = out["e2e_p99_ms"] / out["relay_p99_ms"] if relay else float("nan")
    out["e2e_samples"], out["relay_samples"] = float(len(e2e)), float(len(relay))
    return {k: round(v, 3) for k, v in out.items()}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--generate"]:
        mode, port, n, secs = sys.argv[2:6]
        print(json.dumps(asyncio.run(_generate(mode, int(port), int(n), float(secs)))))
    else:
        print(json.dumps(run_e2e_bench(), indent=2))
