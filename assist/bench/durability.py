"""Figures for the durable call log, each measured on loopback with the load generator in its own
process (see `assist.bench.loadgen`):

- `max_calls_p99_under_50ms`: the most concurrent calls, at real-call rate (one final utterance every
  ~2 s per call), whose p99 ingest→sidebar latency stays under 50 ms with every prompt arriving, with
  the call log on; beside it, at each level of the ladder, the p99, the longest event-loop stall, lost
  prompts, events/s intended and written, and the CPU cores of the server and the load generator;
  `ladder_stop` says why the ladder stopped;
- `log_on_vs_off`: ingest throughput (acked events/s, single-event messages, pipelined) with the log
  on as a ratio to the log off, alternating rounds in the same run;
- `recovery_s_200_calls`: seconds to rebuild 200 open calls of 20 utterances from the log at start;
- `ingest_burst_events_per_s`: a CTI link's backlog of 10,000 events sent on one connection at once,
  default limits, log on: events answered per second, its ratio to the same burst with the log off
  (`ingest_burst_log_on_vs_off`), and `ingest_burst_refused` (events answered with an error: 0 unless
  backpressure broke down).

`run_durability_bench()` returns all of them with the absolute figures beside the ratios.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assist.bench.live import ServerRun, run_server, server_config
from assist.bench.loadgen import BLAST_CALLS, BLAST_TEXTS, Latencies, blast, burst, measure
from assist.bench.stats import median, percentile, progress
from assist.server import eventloop
from assist.server.app import AssistServer
from assist.server.config import CallLogSettings, ServerConfig, Tokens

P99_BUDGET_MS = 50.0
CALL_STEPS = (250, 500, 1000, 1500, 2000, 3000, 5000, 7500)


# -- max concurrent calls under the latency budget -------------------------------------------------------
async def _e2e(port: int, while_open: Callable[[], None], calls: int, seconds: float) -> Latencies:
    return await measure("e2e", port, calls, seconds, while_open)


def max_calls_p99_under_50ms(steps: tuple[int, ...] = CALL_STEPS, seconds: float = 15.0) -> dict[str, Any]:
    """Step up the concurrent calls (log on; each step a fresh server and log) until a level fails:
    its p99 over 50 ms, a measured prompt that never came, an event refused, or a load generator
    that wrote under `DELIVERED_SHARE` of the events it was to write (then the level did not
    measure what it says). Beside each level's p99: lost prompts, events/s intended and written,
    the generator's latest write, and the CPU cores the server, the generator and every other process
    on the machine used (a level measured while others took the cores shows it)."""
    best = 0
    by: dict[str, dict[str, Any]] = {key: {} for key in LEVEL_KEYS}
    stop = ""
    for calls in steps:
        progress(f"durability: {calls} calls, log on, {seconds:.0f} s")
        with tempfile.TemporaryDirectory() as tmp:
            config = server_config(calls, str(Path(tmp) / "calls.db"))
            server = run_server(config, functools.partial(_e2e, calls=calls, seconds=seconds))
        level = _level(server)
        for key, value in level.items():
            by[key][str(calls)] = value
        stop = level_failure(server.latencies)
        if stop:
            stop = f"{calls} calls: {stop}"
            break
        best = calls
    return {"max_calls_p99_under_50ms": best, **by, "ladder_stop": stop or "every level passed"}


LEVEL_KEYS = ("p99_ms_by_calls", "loop_stall_ms_by_calls", "loop_stall_cpu_ms_by_calls",
              "server_cpu_us_per_event_by_calls", "lost_prompts_by_calls", "events_per_s_intended_by_calls",
              "events_per_s_sent_by_calls", "send_late_max_ms_by_calls", "server_cpu_cores_by_calls",
              "loadgen_cpu_cores_by_calls", "loadgen_cpu_share_by_calls", "other_cpu_cores_by_calls",
              "gc_full_ms_by_calls", "gc_walk_all_ms_by_calls")
DELIVERED_SHARE = 0.98


def _level(server: ServerRun) -> dict[str, Any]:
    got = server.latencies
    return dict(zip(LEVEL_KEYS, (
        round(percentile(got.samples, 0.99), 2), round(server.stall_ms, 2), round(server.stall_cpu_ms, 2),
        round(server.cpu_us_per_event, 1), got.lost, round(got.events_per_s_intended), round(got.events_per_s_sent),
        round(got.send_late_max_ms, 1), round(server.cpu_cores, 3), round(server.loadgen_cpu_cores, 3),
        round(got.cpu_s / max(1e-9, got.cpu_s + server.cpu_s), 3), round(server.other_cpu_cores, 3),
        round(server.gc_full_ms, 1), round(server.gc_walk_all_ms, 1)), strict=True))


def level_failure(got: Latencies) -> str:
    """Why a level of a ladder failed, or "" when it passed."""
    p99 = round(percentile(got.samples, 0.99), 2)
    if not got.samples:
        return "no prompt arrived"
    if not p99 < P99_BUDGET_MS:
        return f"p99 {p99} ms over {P99_BUDGET_MS:.0f} ms"
    if got.lost:
        return f"{got.lost} of the measured prompts never arrived"
    if got.refused:
        return f"{got.refused} events refused"
    if got.events_sent < DELIVERED_SHARE * got.events:
        return f"the load generator wrote {got.events_sent} of the {got.events} events due in the window"
    return ""


# -- throughput, log on vs off ---------------------------------------------------------------------------
async def _blast_server(log: Path | None, seconds: float) -> float:
    async with AssistServer(server_config(BLAST_CALLS, str(log) if log else None)) as server:
        return await blast(server.port, seconds)


def log_on_vs_off(rounds: int = 3, seconds: float = 8.0) -> dict[str, float]:
    """Acked events/s with the log off and on, alternating rounds (off, on, off, on…); medians."""
    off: list[float] = []
    on: list[float] = []
    for r in range(rounds):
        progress(f"durability: ingest throughput, log off and on, round {r + 1} of {rounds}")
        off.append(eventloop.run(_blast_server(None, seconds)))
        with tempfile.TemporaryDirectory() as tmp:
            on.append(eventloop.run(_blast_server(Path(tmp) / "calls.db", seconds)))
    off_rate, on_rate = median(off), median(on)
    return {"log_on_vs_off": round(on_rate / off_rate, 3), "ingest_events_per_s_log_off": round(off_rate),
            "ingest_events_per_s_log_on": round(on_rate)}


# -- a backlog on one connection, default limits -----------------------------------------------------
async def _burst_server(log: Path | None) -> dict[str, Any]:
    config = ServerConfig(port=0, tokens=Tokens(cti="cti"), log=CallLogSettings(path=str(log) if log else None))
    async with AssistServer(config) as server:
        return await burst(server.port)


def ingest_burst(rounds: int = 3) -> dict[str, Any]:
    """The burst generator against a server with default limits, log off and on in alternating rounds;
    medians of events answered per second, and every refusal counted."""
    rates: dict[str, list[float]] = {"off": [], "on": []}
    refused = unanswered = 0
    for r in range(rounds):
        progress(f"durability: a 10,000-event backlog on one connection, log off and on, round {r + 1} of {rounds}")
        for mode in ("off", "on"):
            with tempfile.TemporaryDirectory() as tmp:
                got = eventloop.run(_burst_server(Path(tmp) / "calls.db" if mode == "on" else None))
            rates[mode].append(got["events_per_s"])
            refused += sum(n for kind, n in got["answers"].items() if kind not in ("ack", "duplicate"))
            unanswered += got["events"] - got["answered"]
    off_rate, on_rate = median(rates["off"]), median(rates["on"])
    return {"ingest_burst_events_per_s": round(on_rate), "ingest_burst_events_per_s_log_off": round(off_rate),
            "ingest_burst_log_on_vs_off": round(on_rate / off_rate, 3), "ingest_burst_refused": refused,
            "ingest_burst_unanswered": unanswered}


# -- recovery --------------------------------------------------------------------------------------------
def recovery_s(calls: int = 200, turns: int = 20) -> dict[str, float]:
    """Write `calls` open calls of `turns` utterances through a logging server's hub, then time a fresh
    server rebuilding them from the log (what `assist serve --log` does before it listens)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "calls.db"
        first = AssistServer(server_config(calls, str(db)))
        for i in range(calls):
            first.hub.ingest({"type": "call.start", "call_id": f"r{i}", "lang": "en", "t_ms": 0,
                              "agent_id": f"a{i}", "seq": 0})
            for step in range(1, turns + 1):
                speaker, text = BLAST_TEXTS[(step - 1) % len(BLAST_TEXTS)]
                first.hub.ingest({"type": "utterance", "call_id": f"r{i}", "speaker": speaker, "text": text,
                                  "start_ms": step * 2000, "end_ms": step * 2000 + 1500, "seq": step})
        assert first.calllog is not None
        first.calllog.close()
        first.engine.close()
        second = AssistServer(server_config(calls, str(db)))
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
    ingest_events_per_s_log_off/on, recovery_s_200_calls, recovery_events, ingest_burst_*."""
    out: dict[str, Any] = {}
    progress("durability: rebuilding 200 open calls from the log")
    out.update(recovery_s())
    out.update(log_on_vs_off())
    out.update(ingest_burst())
    out.update(max_calls_p99_under_50ms(steps, step_seconds))
    return out
