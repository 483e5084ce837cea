"""`assist bench`: throughput, memory and replay speed of the engine, each against a baseline
measured in the same run (figures on shared machines are noisy; ratios are what to compare)."""

from __future__ import annotations

import gc
import json
import multiprocessing
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from assist.bundle import EXAMPLES
from assist.core.compiled import CompiledRules
from assist.core.engine import Engine
from assist.core.outputs import Output
from assist.replay import replay
from assist.rulepack.compile import compile_packs
from assist.rulepack.load import load_packs

TURNS_PER_CALL = 20


Turn = tuple[str, str, str]  # (lang, speaker, text)


def corpus(rules_dir: Path) -> list[Turn]:
    """Real utterances: every turn of every case stored in the packs."""
    out: list[Turn] = []
    for pack in load_packs(rules_dir):
        for rule in pack.rules:
            for case in rule.cases:
                for turn in case.turns:
                    if turn.speaker is not None:
                        out.append((case.lang, turn.speaker, turn.text))
    return out


def example_scripts(examples_dir: Path) -> list[list[Turn]]:
    """The bundled example calls, each as its turns: realistic difficult calls."""
    from assist.core.normalize import detect_lang
    from assist.formats import ReadOptions, read_file

    scripts = []
    for path in sorted(examples_dir.glob("*.txt")):
        turns = [(str(i.event["speaker"]), str(i.event["text"]))
                 for i in read_file(path, None, ReadOptions(path.stem))
                 if i.event and i.event.get("type") == "utterance"]
        lang = detect_lang(" ".join(t for _, t in turns))
        scripts.append([(lang, spk, text) for spk, text in turns])
    return scripts


def random_scripts(lines: list[Turn], calls: int, turns: int, seed: int) -> list[list[Turn]]:
    """Dense scripts: each call draws its turns at random from a pool where every line is a test case."""
    rng = random.Random(seed)
    by_lang: dict[str, list[Turn]] = {}
    for line in lines:
        by_lang.setdefault(line[0], []).append(line)
    pools = [pool for _, pool in sorted(by_lang.items())]
    return [[rng.choice(pools[i % len(pools)]) for _ in range(turns)] for i in range(calls)]


Events = list[dict[str, Any]]


def workload(scripts: list[list[Turn]], calls: int, turns: int, seed: int = 7,
             prefix: str = "b") -> tuple[Events, Events, Events]:
    """call.start events, interleaved utterances (round robin over calls), call.end events.

    Call i plays script (i + seed) mod n, from the top again when it runs out.
    """
    starts, ends, utterances = [], [], []
    call_scripts = [scripts[(i + seed) % len(scripts)] for i in range(calls)]
    for i in range(calls):
        starts.append({"type": "call.start", "call_id": f"{prefix}{i}", "agent_id": f"a{i % 50}",
                       "lang": call_scripts[i][0][0], "t_ms": 0})
    for turn in range(turns):
        for i in range(calls):
            _, speaker, text = call_scripts[i][turn % len(call_scripts[i])]
            t = 2000 * turn
            utterances.append({"type": "utterance", "call_id": f"{prefix}{i}", "speaker": speaker, "text": text,
                               "start_ms": t, "end_ms": t + 1500, "final": True})
    for i in range(calls):
        ends.append({"type": "call.end", "call_id": f"{prefix}{i}", "t_ms": 2000 * turns})
    return starts, utterances, ends


def _engine_rate(rules: CompiledRules, starts: list[dict[str, Any]], utts: list[dict[str, Any]],
                 ends: list[dict[str, Any]], capture: list[tuple[str, dict[str, Any]]] | None = None) -> float:
    engine = Engine(rules, max_calls=len(starts) + 10, prefilter=capture is None)
    if capture is not None:
        runner = engine._runner
        inner = runner.evaluate

        def recording(call_id: str, facts: dict[str, Any], could_fire: int | None = None) -> Any:
            if facts.get("k") != "t":
                capture.append((call_id, dict(facts)))
            return inner(call_id, facts, could_fire)

        runner.evaluate = recording  # type: ignore[method-assign]
    for ev in starts:
        engine.feed(ev)
    sink: list[Output] = []
    started = time.perf_counter()
    for ev in utts:
        sink.extend(engine.feed(ev))
    elapsed = time.perf_counter() - started
    for ev in ends:
        engine.feed(ev)
    return len(utts) / elapsed


def throughput(rules: CompiledRules, scripts: list[list[Turn]], calls: int, rounds: int = 3,
               ) -> dict[str, float]:
    """Utterances per second through the engine, and two baselines posted in the same rounds:
    raw   - each workload utterance event, as received, posted to a ruleset of the same rules;
    facts - each utterance's facts as the engine computes them, posted to the same ruleset
            (what durable_rules alone costs to evaluate them: the strictest baseline)."""
    from assist.core.durable_adapter import SESSIONS_PER_SHARD, raw_post_rate

    capture: list[tuple[str, dict[str, Any]]] = []
    starts, utts, ends = workload(scripts, calls, TURNS_PER_CALL, prefix="warm")
    _engine_rate(rules, starts, utts, ends, capture)  # warm-up, and each utterance's facts
    raw_events = [(u["call_id"], dict(u)) for u in utts]
    shards = max(1, -(-(calls + 10) // SESSIONS_PER_SHARD))
    engine_rates, raw_rates, fact_rates = [], [], []
    for r in range(rounds):
        starts, utts, ends = workload(scripts, calls, TURNS_PER_CALL, seed=r, prefix=f"r{r}-")
        engine_rates.append(_engine_rate(rules, starts, utts, ends))
        raw_rates.append(raw_post_rate(rules.ruleset, raw_events, shards))
        fact_rates.append(raw_post_rate(rules.ruleset, capture, shards))
    engine_rate = statistics.median(engine_rates)
    raw_rate = statistics.median(raw_rates)
    fact_rate = statistics.median(fact_rates)
    return {"engine_events_per_s": round(engine_rate), "raw_events_per_s": round(raw_rate),
            "engine_vs_raw": round(engine_rate / raw_rate, 3),
            "durable_facts_per_s": round(fact_rate), "engine_vs_durable_facts": round(engine_rate / fact_rate, 3)}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _memory_child(rules_dir: str, calls: int, queue: Any) -> None:
    rules = compile_packs(load_packs(Path(rules_dir)))
    scripts = example_scripts(EXAMPLES)
    starts, utts, _ = workload(scripts, calls, TURNS_PER_CALL, prefix="m")
    warm_s, warm_u, warm_e = workload(scripts, 5, 3, prefix="w")
    engine = Engine(rules, max_calls=calls + 10)
    for ev in warm_s + warm_u + warm_e:
        engine.feed(ev)
    gc.collect()
    rss0 = _rss_bytes()
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
    rss1 = _rss_bytes()
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


def replay_hour(rules: CompiledRules, lines: list[Turn]) -> dict[str, float]:
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




def run(rules_dir: Path, calls: int = 1000, live: bool = True) -> dict[str, Any]:
    rules = compile_packs(load_packs(rules_dir))
    lines = corpus(rules_dir)
    result: dict[str, Any] = {"calls": calls, "utterances": calls * TURNS_PER_CALL}
    result.update(memory(rules_dir, calls))
    result.update(throughput(rules, example_scripts(EXAMPLES), calls))
    dense = throughput(rules, random_scripts(lines, calls, TURNS_PER_CALL, seed=7), calls)
    result.update({f"dense_{k}": v for k, v in dense.items()})
    result.update(replay_hour(rules, lines))
    if live:
        result.update(_live(calls))
    return result


def _live(calls: int) -> dict[str, Any]:
    """The websocket figures, in a fresh process: the server must not inherit the heap (and the GC
    work) that the engine measurements above leave behind in this one."""
    import subprocess
    import sys

    code = ("import json, sys; from assist.server.bench import run_e2e_bench; "
            "from assist.server.durability_bench import run_durability_bench; "
            f"r = run_e2e_bench(calls={calls}); r.update(run_durability_bench()); print(json.dumps(r))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1500, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"live benchmark failed: {proc.stderr[-2000:]}")
    live: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return live


TARGETS = {
    "engine_vs_raw": (">=", 0.5),
    "bytes_per_open_call": ("<=", 50_000),
    "replay_1h_call_s": ("<", 1.0),
    "e2e_vs_relay_p99": ("<=", 2.0),
    "e2e_p99_ms": ("<", 20.0),
    "max_calls_p99_under_50ms": (">=", 2000),
    "log_on_vs_off": (">=", 0.7),
}


def table(result: dict[str, Any]) -> str:
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
