"""One stage of `assist bench` in a process of its own:

    python -m assist.bench.fresh engine|live|durability|scale RULES_DIR CALLS

prints one JSON object of figures on stdout (progress goes to stderr)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from assist.bench.stats import progress


def engine_stage(rules_dir: Path, calls: int) -> dict[str, Any]:
    from assist.bench import engine
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


def main(argv: list[str]) -> int:
    stage, rules_dir, calls = argv[0], Path(argv[1]), int(argv[2])
    out: dict[str, Any] = {}
    if stage == "engine":
        out.update(engine_stage(rules_dir, calls))
    elif stage == "live":
        from assist.bench.live import run_e2e_bench

        progress(f"live: {calls} calls through a bare relay, then through the server, 20 s each")
        out.update(run_e2e_bench(calls=calls))
        from assist.bench.vendor import vendor_live_vs_native

        progress("live: the Deepgram example call as Deepgram messages vs as native events")
        out.update(vendor_live_vs_native())
    elif stage == "durability":
        from assist.bench.durability import run_durability_bench

        out.update(run_durability_bench())
    elif stage == "scale":
        from assist.bench.scale import run_scale_bench

        out.update(run_scale_bench())
    else:
        sys.exit(f"unknown stage {stage!r}: expected engine, live, durability or scale")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
