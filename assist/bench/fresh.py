"""The websocket stages of `assist bench` in a process of their own:

    python -m assist.bench.fresh CALLS live durability

prints one JSON object of figures on stdout (progress goes to stderr)."""

from __future__ import annotations

import json
import sys
from typing import Any

from assist.bench.stats import progress


def main(argv: list[str]) -> int:
    calls, stages = int(argv[0]), argv[1:]
    out: dict[str, Any] = {}
    if "live" in stages:
        from assist.bench.live import run_e2e_bench

        progress(f"live: {calls} calls through a bare relay, then through the server, 20 s each")
        out.update(run_e2e_bench(calls=calls))
    if "durability" in stages:
        from assist.bench.durability import run_durability_bench

        out.update(run_durability_bench())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
