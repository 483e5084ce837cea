"""`assist bench`: the engine's and the live server's figures, each against a baseline measured in
the same run (figures on shared machines are noisy; ratios are what to compare).

Three stages, each selectable with `only`:
- engine:     throughput against bare durable_rules posting, memory per open call, replay speed
              (`assist.bench.engine`);
- live:       ingest→sidebar latency against a bare websockets relay, longest event-loop stall
              (`assist.bench.live`);
- durability: the call ladder under a 50 ms p99 budget with the log on, log on vs off, recovery
              (`assist.bench.durability`).
The websocket stages run in a fresh process (`assist.bench.fresh`): the server must not inherit the
heap (and the GC work) that the engine stage leaves behind in this one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

STAGES = ("engine", "live", "durability")


def run(rules_dir: Path, calls: int = 1000, only: Collection[str] = STAGES) -> dict[str, Any]:
    """Every figure of the selected stages, as one flat JSON-ready dict (keys are stable: tools read them)."""
    from assist.bench.stats import load_1m, progress

    unknown = set(only) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown bench stage(s) {sorted(unknown)}: expected some of {', '.join(STAGES)}")
    result: dict[str, Any] = {"calls": calls, "utterances": calls * _turns_per_call(), "load_1m_start": load_1m()}
    if "engine" in only:
        result.update(_engine_stage(rules_dir, calls))
    server_stages = [s for s in STAGES if s in only and s != "engine"]
    if server_stages:
        result.update(_in_fresh_process(server_stages, calls))
    result["load_1m_end"] = load_1m()
    progress("done")
    return result


def _turns_per_call() -> int:
    from assist.bench.workload import TURNS_PER_CALL

    return TURNS_PER_CALL


def _engine_stage(rules_dir: Path, calls: int) -> dict[str, Any]:
    from assist.bench import engine
    from assist.bench.stats import progress
    from assist.bench.workload import TURNS_PER_CALL, corpus, example_scripts, random_scripts
    from assist.rulepack.compile import compile_packs
    from assist.rulepack.load import load_packs

    rules = compile_packs(load_packs(rules_dir))
    lines = corpus(rules_dir)
    out: dict[str, Any] = {}
    progress(f"engine: memory per open call, {calls} calls in a fresh process")
    out.update(engine.memory(rules_dir, calls))
    progress(f"engine: throughput against raw durable_rules, {calls} calls of the example scripts")
    out.update(engine.throughput(rules, example_scripts(), calls))
    progress(f"engine: throughput against raw durable_rules, {calls} calls of dense scripts")
    dense = engine.throughput(rules, random_scripts(lines, calls, TURNS_PER_CALL, seed=7), calls)
    out.update({f"dense_{k}": v for k, v in dense.items()})
    progress("engine: replay of a one-hour call")
    out.update(engine.replay_hour(rules, lines))
    return out


def _in_fresh_process(stages: list[str], calls: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "assist.bench.fresh", str(calls), *stages],
                          stdout=subprocess.PIPE, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the {' and '.join(stages)} benchmark failed (exit {proc.returncode}; its error "
                           "is printed above)")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


TARGETS = {
    "engine_vs_raw": (">=", 0.8),
    "bytes_per_open_call": ("<=", 50_000),
    "replay_1h_call_s": ("<", 1.0),
    "e2e_vs_relay_p99": ("<=", 2.0),
    "e2e_p99_ms": ("<", 20.0),
    "loop_stall_max_ms": ("<", 100.0),
    "max_calls_p99_under_50ms": (">=", 5000),
    "log_on_vs_off": (">=", 0.7),
}


def table(result: dict[str, Any]) -> str:
    """The figures as an aligned table, each with its target and whether it was met."""
    rows = []
    for key, value in result.items():
        target = TARGETS.get(key)
        verdict = ""
        if target and isinstance(value, (int, float)):
            op, limit = target
            ok = {"<=": value <= limit, ">=": value >= limit, "<": value < limit}[op]
            verdict = f"target {op} {limit}: {'met' if ok else 'MISSED'}"
        rows.append(f"  {key:32} {value!s:>14}  {verdict}")
    return "\n".join(rows)
