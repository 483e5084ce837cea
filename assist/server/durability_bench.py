"""Figures for the durable call log, each measured on loopback with the load generator in its own
process (see notes/benchmarking.md):

- `max_calls_p99_under_50ms`: the most concurrent calls, at real-call rate (one final utterance every
  ~2 s per call), whose p99 ingest→sidebar latency stays under 50 ms, with the call log on;
- `log_on_vs_off`: ingest throughput (acked events/s, single-event messages, pipelined) with the log
  on as a ratio to the log off, alternating rounds in the same run;
- `recovery_s_200_calls`: seconds to rebuild 200 open calls of 20 utterances from the log at start.

`run_durability_bench()` returns all of them with the absolute figures beside the ratios.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from assist.server.app import AssistServer
from assist.server.bench import _measure, _percentile
from assist.server.config import CallLogSettings, Limits, ServerConfig, Tokens

P99_BUDGET_MS = 50.0
CALL_STEPS = (250, 500, 1000, 1500, 2000, 2500)
BLAST_CONNECTIONS = 8
BLAST_WINDOW = 64      # unacked events in flight per connection
BLAST_CALLS = 50       # calls per connection, round robin
BLAST_TURNS = 20
TEXTS = [("customer", "This is ridiculous, I've waited two weeks!"),
         ("agent", "I'm sorry, can I have your order number?"),
         ("customer", "It's 58213, and I want a refund now."),
         ("agent", "I understand how frustrating that is. Let me check that for you.")]


def _config(calls: int, log: Path | None) -> ServerConfig:
    tokens = Tokens(cti="cti", agents={f"a{i}": f"t{i}" for i in range(calls)})
    limits = Limits(max_calls=calls + 100, max_events_per_s=1_000_000, queue_size=256)
    return ServerConfig(port=0, tokens=tokens, limits=limits,
                        log=CallLogSettings(path=str(log) if log else None))


# -- max concurrent calls under the latency budget -------------------------------------------------------
async def _p99_at(calls: int, seconds: float, log: Path) -> tuple[float, int]:
    async with AssistServer(_config(calls, log)) as server:
        samples = await _measure("e2e", server.port, calls, seconds)
    return _percentile(samples, 0.99), len(samples)


def max_calls_p99_under_50ms(steps: tuple[int, ...] = CALL_STEPS, seconds: float = 15.0) -> dict[str, Any]:
    """Step up the concurrent calls until p99 goes over 50 ms (log on; each step a fresh server and log)."""
    best = 0
    per_step: dict[str, float] = {}
    for calls in steps:
        with tempfile.TemporaryDirectory() as tmp:
            p99, n = asyncio.run(_p99_at(calls, seconds, Path(tmp) / "calls.db"))
        per_step[str(calls)] = round(p99, 2)
        if not n or not p99 < P99_BUDGET_MS:
            break
        best = calls
    return {"max_calls_p99_under_50ms": best, "p99_ms_by_calls": per_step}


# -- throughput, log on vs off ---------------------------------------------------------------------------
async def _blast(port: int, seconds: float) -> float:
    """Load generator: pipelined single-event messages on several connections; acked events/s."""
    acked = 0
    loop = asyncio.get_running_loop()

    async def connection(c: int, deadline: float) -> None:
        nonlocal acked
        window = asyncio.Semaphore(BLAST_WINDOW)
        async with connect(f"ws://127.0.0.1:{port}/ingest", additional_headers={"Authorization": "Bearer cti"},
                           close_timeout=1) as ws:
            async def read() -> None:
                nonlocal acked
                async for _ in ws:
                    acked += 1
                    window.release()

            reader = asyncio.create_task(read())
            cycle = 0
            while loop.time() < deadline:
                for step in range(BLAST_TURNS + 2):
                    for k in range(BLAST_CALLS):
                        call_id = f"x{c}-{k}-{cycle}"
                        if step == 0:
                            ev: dict[str, Any] = {"type": "call.start", "call_id": call_id, "lang": "en",
                                                  "t_ms": 0, "agent_id": f"a{k}"}
                        elif step <= BLAST_TURNS:
                            speaker, text = TEXTS[(step - 1) % len(TEXTS)]
                            ev = {"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                                  "start_ms": step * 2000, "end_ms": step * 2000 + 1500, "seq": step}
                        else:
                            ev = {"type": "call.end", "call_id": call_id, "t_ms": step * 2000}
                        await window.acquire()
                        await ws.send(json.dumps(ev))
                cycle += 1
            reader.cancel()

    deadline = loop.time() + 1.0 + seconds
    tasks = [asyncio.create_task(connection(c, deadline)) for c in range(BLAST_CONNECTIONS)]
    await asyncio.sleep(1.0)  # warm-up: connections open, first calls started
    measured_from, before = loop.time(), acked
    await asyncio.gather(*tasks, return_exceptions=True)
    return (acked - before) / max(1e-9, loop.time() - measured_from)


async def _blast_server(log: Path | None, seconds: float) -> float:
    async with AssistServer(_config(BLAST_CALLS, log)) as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "assist.server.durability_bench", "--blast", str(server.port), str(seconds),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError(f"the throughput load generator failed: {err.decode()[-2000:]}")
        rate: float = json.loads(out)
        return rate


def log_on_vs_off(rounds: int = 3, seconds: float = 8.0) -> dict[str, float]:
    """Acked events/s with the log off and on, alternating rounds (off, on, off, on…); medians."""
    off: list[float] = []
    on: list[float] = []
    for _ in range(rounds):
        off.append(asyncio.run(_blast_server(None, seconds)))
        with tempfile.TemporaryDirectory() as tmp:
            on.append(asyncio.run(_blast_server(Path(tmp) / "calls.db", seconds)))
    off_rate, on_rate = statistics.median(off), statistics.median(on)
    return {"log_on_vs_off": round(on_rate / off_rate, 3), "ingest_events_per_s_log_off": round(off_rate),
            "ingest_events_per_s_log_on": round(on_rate)}


# -- recovery --------------------------------------------------------------------------------------------
def recovery_s(calls: int = 200, turns: int = 20) -> dict[str, float]:
    """Write `calls` open calls of `turns` utterances through a logging server's hub, then time a fresh
    server rebuilding them from the log (what `assist serve --log` does before it listens)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "calls.db"
        first = AssistServer(_config(calls, db))
        for i in range(calls):
            first.hub.ingest({"type": "call.start", "call_id": f"r{i}", "lang": "en", "t_ms": 0,
                              "agent_id": f"a{i}", "seq": 0})
            for step in range(1, turns + 1):
                speaker, text = TEXTS[(step - 1) % len(TEXTS)]
                first.hub.ingest({"type": "utterance", "call_id": f"r{i}", "speaker": speaker, "text": text,
                                  "start_ms": step * 2000, "end_ms": step * 2000 + 1500, "seq": step})
        assert first.calllog is not None
        first.calllog.close()
        first.engine.close()
        second = AssistServer(_config(calls, db))
        started = time.perf_counter()
        recovered = second.recover()
        elapsed = time.perf_counter() - started
        assert second.calllog is not None
        second.calllog.close()
        second.engine.close()
    if recovered["calls"] != calls:
        raise RuntimeError(f"recovered {recovered['calls']} of {calls} open calls")
    return {f"recovery_s_{calls}_calls": round(elapsed, 3), "recovery_events": recovered["events"]}


def run_durability_bench(steps: tuple[int, ...] = CALL_STEPS, step_seconds: float = 15.0) -> dict[str, Any]:
    """Every durability figure; keys max_calls_p99_under_50ms, p99_ms_by_calls, log_on_vs_off,
    ingest_events_per_s_log_off/on, recovery_s_200_calls, recovery_events."""
    out: dict[str, Any] = {}
    out.update(recovery_s())
    out.update(log_on_vs_off())
    out.update(max_calls_p99_under_50ms(steps, step_seconds))
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--blast"]:
        with contextlib.suppress(KeyboardInterrupt):
            print(json.dumps(asyncio.run(_blast(int(sys.argv[2]), float(sys.argv[3])))))
    else:
        print(json.dumps(run_durability_bench(), indent=2))
