"""The oracle the server and scale-out tests share: scripted calls, and the prompts `assist replay`
raises for them (the engine fed the same events), to compare with what sidebars received."""

from __future__ import annotations

from functools import cache
from typing import Any

from assist import load_rules
from assist.bench.workload import EXAMPLES, example_scripts, workload
from assist.core.compiled import CompiledRules
from assist.core.engine import Engine

Script = list[dict[str, Any]]
PromptKey = tuple[str, str, int, str]  # id, rule, t_ms, say


@cache
def rules() -> CompiledRules:
    return load_rules()


def scripted_calls(calls: int, turns: int, prefix: str, agents: int | None = None) -> dict[str, Script]:
    """Each call's events in order, with seq 1..n; with `agents`, calls go round robin to a0..a{agents-1}."""
    starts, utts, ends = workload(example_scripts(EXAMPLES), calls, turns, prefix=prefix)
    by_call: dict[str, Script] = {}
    for i, e in enumerate(starts):
        by_call[e["call_id"]] = [e if agents is None else {**e, "agent_id": f"a{i % agents}"}]
    for ev in utts + ends:
        by_call[ev["call_id"]].append(ev)
    return {cid: [{**ev, "seq": i + 1} for i, ev in enumerate(evs)] for cid, evs in by_call.items()}


def expected_prompts(calls: dict[str, Script]) -> dict[str, list[PromptKey]]:
    """What `assist replay` raises for each call, in order."""
    engine = Engine(rules(), max_calls=len(calls) + 10)
    out: dict[str, list[PromptKey]] = {}
    for call_id, events in calls.items():
        out[call_id] = [(o["id"], o["rule"], o["t_ms"], o["say"]) for ev in events
                        for o in (x.to_dict() for x in engine.feed(ev)) if o["kind"] == "prompt"]
    engine.close()
    return out
