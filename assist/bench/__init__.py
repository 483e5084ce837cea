"""`assist bench`: the engine's and the live server's figures, each against a baseline measured in
the same run (figures on shared machines are noisy; ratios are what to compare).

Four stages, each selectable with `only`:
- engine:     throughput against bare durable_rules posting, memory per open call, replay speed
              (`assist.bench.engine`);
- live:       ingest→sidebar latency against a bare websockets relay, longest event-loop stall
              (`assist.bench.live`);
- durability: the call ladder under a 50 ms p99 budget with the log on, log on vs off, recovery
              (`assist.bench.durability`);
- scale:      the same ladder through `assist gateway` and two `assist worker` processes on Redis,
              worker throughput with 1 and 2 workers, takeover after a SIGKILL (`assist.bench.scale`;
              needs redis-server on PATH).
Each stage runs in a fresh process (`assist.bench.fresh`): the server must not inherit the heap
(and the GC work) the engine stage leaves behind, nor compete with a process still holding it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

STAGES = ("engine", "live", "durability", "scale")


def run(rules_dir: Path, calls: int = 1000, only: Collection[str] = STAGES) -> dict[str, Any]:
    """Every figure of the selected stages, as one flat JSON-ready dict (keys are stable: tools read them)."""
    from assist.bench.stats import load_1m, progress

    unknown = set(only) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown bench stage(s) {sorted(unknown)}: expected some of {', '.join(STAGES)}")
    result: dict[str, Any] = {"calls": calls, "utterances": calls * _turns_per_call(), "load_1m_start": load_1m()}
    for stage in STAGES:  # each in a process of its own, which gives its memory back when it ends
        if stage in only:
            result.update(_in_fresh_process(stage, rules_dir, calls))
    result["load_1m_end"] = load_1m()
    progress("done")
    return result


def _turns_per_call() -> int:
    from assist.bench.workload import TURNS_PER_CALL

    return TURNS_PER_CALL


def _in_fresh_process(stage: str, rules_dir: Path, calls: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "assist.bench.fresh", stage, str(rules_dir), str(calls)],
                          stdout=subprocess.PIPE, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the {stage} benchmark failed (exit {proc.returncode}; its error is printed above)")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


TARGETS = {
    "engine_vs_raw": (">=", 0.8),
    "bytes_per_open_call": ("<=", 50_000),
    "replay_1h_call_s": ("<", 1.0),
    "e2e_vs_relay_p99": ("<=", 2.0),
    "e2e_p99_ms": ("<", 20.0),
    "loop_stall_max_ms": ("<", 100.0),
    "gc_full_ms": ("<", 100.0),  # the timed full collection: a stall too, once every few minutes
    "max_calls_p99_under_50ms": (">=", 5000),
    "log_on_vs_off": (">=", 0.7),
    "scale_max_calls_p99_under_50ms": (">=", 5000),
    "scale_workers_2_vs_1": (">=", 1.6),
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
