"""The engine benchmarks' workload: real utterances (the rule cases, the bundled example calls) played
by many concurrent synthetic calls."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from assist.bundle import EXAMPLES
from assist.rulepack.load import load_packs

TURNS_PER_CALL = 20

Line = tuple[str, str, str]  # (lang, speaker, text): one line of a script
Events = list[dict[str, Any]]


def corpus(rules_dir: Path) -> list[Line]:
    """Real utterances: every turn of every case stored in the packs."""
    out: list[Line] = []
    for pack in load_packs(rules_dir):
        for rule in pack.rules:
            for case in rule.cases:
                for turn in case.turns:
                    if turn.speaker is not None:
                        out.append((case.lang, turn.speaker, turn.text))
    return out


def example_scripts(examples_dir: Path = EXAMPLES) -> list[list[Line]]:
    """The bundled example calls, each as its lines: realistic difficult calls."""
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


def random_scripts(lines: list[Line], calls: int, turns: int, seed: int) -> list[list[Line]]:
    """Dense scripts: each call draws its lines at random from a pool where every line is a test case."""
    rng = random.Random(seed)
    by_lang: dict[str, list[Line]] = {}
    for line in lines:
        by_lang.setdefault(line[0], []).append(line)
    pools = [pool for _, pool in sorted(by_lang.items())]
    return [[rng.choice(pools[i % len(pools)]) for _ in range(turns)] for i in range(calls)]


def workload(scripts: list[list[Line]], calls: int, turns: int, seed: int = 7,
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
