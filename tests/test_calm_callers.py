"""Calm, task-oriented callers stay unflagged: the playbook may notice much, but a polite caller booking a
room or asking about a bill is not angry or abusive (at most 2 % of them, here none)."""

from __future__ import annotations

from pathlib import Path

import yaml

from assist import Classification, Engine, Prompt, load_rules

CALLS = yaml.safe_load((Path(__file__).parent / "data" / "calm_calls.yaml").read_text(encoding="utf-8"))
ALARMS = {"angry", "abusive"}


def flagged(lang: str, turns: list[str], engine: Engine, call_id: str) -> set[str]:
    """Types among ALARMS the call was ever classified as, or tipped for (turns alternate agent, customer)."""
    seen: set[str] = set()
    engine.feed({"type": "call.start", "call_id": call_id, "lang": lang, "t_ms": 0})
    t = 0
    for i, text in enumerate(turns):
        speaker = "agent" if i % 2 == 0 else "customer"
        outs = engine.feed({"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                            "start_ms": t, "end_ms": t + 3000})
        t += 3500
        seen |= {o.top for o in outs if isinstance(o, Classification) and o.top in ALARMS}
        seen |= {o.rule[4:] for o in outs if isinstance(o, Prompt) and o.rule[4:] in ALARMS}
    engine.end_call(call_id, t)
    return seen


def test_calm_callers_are_not_taken_for_angry_or_abusive() -> None:
    engine = Engine(load_rules())
    try:
        alarms = {f"{lang}[{i}]": flagged(lang, turns, engine, f"calm-{lang}-{i}")
                  for lang, calls in CALLS.items() for i, turns in enumerate(calls)}
        angry = flagged("en", ["Hello.", "This is outrageous, I'm furious!"], engine, "angry")
    finally:
        engine.close()
    assert angry == {"angry"}  # the check can see an angry caller
    assert len(alarms) == 50
    assert {k: v for k, v in alarms.items() if v} == {}
