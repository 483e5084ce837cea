"""The engine's figures, each against a baseline measured in the same run: utterances per second
against bare durable_rules posting, memory per open call, replay speed of a one-hour call.

Rates are per CPU second of this process (`time.process_time`), not per wall second: the engine and
its baselines run on one thread, and on a shared machine wall time counts whatever else ran."""

from __future__ import annotations

import gc
import json
import multiprocessing
import tempfile
import time
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assist.bench.stats import median, rss_bytes
from assist.bench.workload import TURNS_PER_CALL, Line, example_scripts, workload
from assist.core.compiled import CompiledRules
from assist.core.durable_adapter import RawRuleset
from assist.core.engine import Engine
from assist.core.outputs import Output
from assist.replay import replay
from assist.rulepack.compile import compile_packs
from assist.rulepack.load import load_packs

Posts = list[tuple[str, dict[str, Any]]]  # (call id, facts) in the order they were posted


def engine_rate(rules: CompiledRules, starts: list[dict[str, Any]], utts: list[dict[str, Any]],
                ends: list[dict[str, Any]], record: Posts | None = None) -> float:
    """Utterances per second through a fresh engine. With `record`, every utterance's facts are
    appended to it as posted (and the prefilter is off, so every utterance is posted)."""
    def on_post(call_id: str, facts: Mapping[str, Any]) -> None:
        if record is not None and facts.get("k") != "t":
            record.append((call_id, dict(facts)))

    engine = Engine(rules, max_calls=len(starts) + 10, prefilter=record is None,
                    on_post=on_post if record is not None else None)
    for ev in starts:
        engine.feed(ev)
    sink: list[Output] = []
    started = time.process_time()
    for ev in utts:
        sink.extend(engine.feed(ev))
    elapsed = time.process_time() - started
    for ev in ends:
        engine.feed(ev)
    return len(utts) / elapsed


def raw_post_rate(raw: RawRuleset, posts: Posts) -> float:
    """Events per second of bare durable_rules posting: each (call id, facts) posted once, with
    nothing else around it."""
    prepared = []
    for n, (call_id, facts) in enumerate(posts):
        name, sid = raw.address(call_id)
        prepared.append((name, {**facts, "sid": sid, "n": n}))
    post, nothing_fired = raw.post, RawRuleset.NOTHING_FIRED
    started = time.process_time()
    for name, event in prepared:
        try:  # noqa: SIM105 - contextlib.suppress costs more than the post being measured
            post(name, event)
        except nothing_fired:
            pass
    elapsed = time.process_time() - started
    return len(prepared) / elapsed if elapsed > 0 else float("inf")


def throughput(rules: CompiledRules, scripts: list[list[Line]], calls: int, rounds: int = 3) -> dict[str, float]:
    """Utterances per second through the engine, and baselines posted in the same rounds:
    raw   - each workload utterance event, as received, posted to a fresh copy of a ruleset of the
            same rules, one durable_rules session per call (its usual way), each made as its call's
            first event is posted (the baseline's definition since the first version);
    facts - each utterance's facts as the engine computes them, posted the same way (what
            durable_rules alone costs to evaluate them);
    raw_warm - as raw, to sessions made before the timed round (the strictest baseline);
    raw_one_session - as raw, every event to one session made before the timed round (the way
            the engine posts).
    Each fresh copy keeps ~380 KB per session until the process ends: run this in a process of its own."""
    facts: Posts = []
    starts, utts, ends = workload(scripts, calls, TURNS_PER_CALL, prefix="warm")
    engine_rate(rules, starts, utts, ends, facts)  # warm-up, and each utterance's facts
    raw_events = [(u["call_id"], dict(u)) for u in utts]
    warm, one_session = RawRuleset(rules.ruleset, calls), RawRuleset(rules.ruleset)
    raw_post_rate(warm, raw_events)  # every call's session made before the timed rounds
    raw_post_rate(one_session, raw_events[:calls])
    rates: dict[str, list[float]] = {"engine": [], "raw": [], "facts": [], "warm": [], "one": []}
    for r in range(rounds):
        starts, utts, ends = workload(scripts, calls, TURNS_PER_CALL, seed=r, prefix=f"r{r}-")
        rates["engine"].append(engine_rate(rules, starts, utts, ends))
        rates["raw"].append(raw_post_rate(RawRuleset(rules.ruleset, calls), raw_events))
        rates["facts"].append(raw_post_rate(RawRuleset(rules.ruleset, calls), facts))
        rates["warm"].append(raw_post_rate(warm, raw_events))
        rates["one"].append(raw_post_rate(one_session, raw_events))
    engine, raw, fact, hot, one = (median(rates[k]) for k in ("engine", "raw", "facts", "warm", "one"))
    return {"engine_events_per_s": round(engine), "raw_events_per_s": round(raw),
            "engine_vs_raw": round(engine / raw, 3),
            "durable_facts_per_s": round(fact), "engine_vs_durable_facts": round(engine / fact, 3),
            "raw_warm_events_per_s": round(hot), "engine_vs_raw_warm": round(engine / hot, 3),
            "raw_one_session_events_per_s": round(one), "engine_vs_raw_one_session": round(engine / one, 3)}


def _memory_child(rules_dir: str, calls: int, queue: Any) -> None:
    rules = compile_packs(load_packs(Path(rules_dir)))
    scripts = example_scripts()
    starts, utts, _ = workload(scripts, calls, TURNS_PER_CALL, prefix="m")
    warm_s, warm_u, warm_e = workload(scripts, 5, 3, prefix="w")
    engine = Engine(rules, max_calls=calls + 10)
    for ev in warm_s + warm_u + warm_e:
        engine.feed(ev)
    gc.collect()
    rss0 = rss_bytes()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for ev in starts:
        engine.feed(ev)
    for ev in utts:
        engine.feed(ev)
    gc.collect()
    ours = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    gc.collect()
    rss1 = rss_bytes()
    queue.put({"bytes_per_open_call": round(ours / calls),
               "engine_c_bytes_per_open_call": round(max(0, rss1 - rss0 - ours) / calls)})


def memory(rules_dir: Path, calls: int) -> dict[str, int]:
    """Per open call, after 20 utterances each: what our Python code holds (tracemalloc), and the
    durable_rules C floor (RSS growth minus ours), measured in a fresh process."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_child, args=(str(rules_dir), calls, queue))
    proc.start()
    result: dict[str, int] = queue.get(timeout=300)
    proc.join(timeout=60)
    return result


def replay_hour(rules: CompiledRules, lines: list[Line]) -> dict[str, float]:
    """Seconds to replay a one-hour call (1,800 utterances) from a native JSONL file at full speed."""
    starts, utts, ends = workload([[ln for ln in lines if ln[0] == "en"]], 1, 1800, prefix="hour")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hour.jsonl"
        path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in starts + utts + ends) + "\n",
                        encoding="utf-8")
        started = time.perf_counter()
        steps = sum(1 for _ in replay([path], rules))
        elapsed = time.perf_counter() - started
    return {"replay_1h_call_s": round(elapsed, 3), "replay_1h_events": steps}
