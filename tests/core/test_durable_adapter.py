"""The durable_rules adapter, seen through the engine: calls sharing its one session never see each
other, several rules per utterance."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from assist import DEFAULT_RULES, CompiledRules, Engine, Output, Prompt, load_rules

PLAYBOOK = DEFAULT_RULES / "playbook"

# A call that raises, resolves and classifies: everything a slot could remember.
DIALOGUE = [
    {"customer": "This is ridiculous, I've been waiting two weeks for a refund!"},
    {"agent": "I'm sorry about that. Can I have your order number?"},
    {"customer": "Hurry up, I don't have time for this."},
    {"agent": "Calm down, it's company policy."},
    {"agent": "I can hear how frustrating this has been."},
    {"customer": "I want compensation."},
    {"agent": "I can offer you a refund and a voucher."},
    {"agent": "Is there anything else I can help with?"},
]
OTHER = [
    {"customer": "My mum is 87 and she's confused by the new app, I don't understand it either."},
    {"agent": "We can't change the app, that's our policy."},
    {"customer": "I'm not sure which plan to pick, um, maybe the cheaper one?"},
]


def dialogue_events(call_id: str, lang: str, turns: list[dict[str, str]]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"type": "call.start", "call_id": call_id, "lang": lang, "t_ms": 0}]
    for n, turn in enumerate(turns, 1):
        ((speaker, text),) = turn.items()
        events.append({"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                       "start_ms": n * 3000 - 2500, "end_ms": n * 3000})
    return events


def anonymous(outputs: list[Output]) -> list[dict[str, Any]]:
    """Outputs as JSON-ready dicts without the call id, so different calls compare."""
    dicts = [o.to_dict() for o in outputs]
    for d in dicts:
        d.pop("call_id")
        if "id" in d:
            d["id"] = d["id"].split(":")[-1]
    return dicts


def run(engine: Engine, call_id: str, turns: list[dict[str, str]], lang: str = "en") -> list[dict[str, Any]]:
    """Outputs of a whole call as JSON-ready dicts, with the call id taken out so calls compare."""
    out: list[Output] = []
    events = dialogue_events(call_id, lang, turns)
    for event in events:
        out.extend(engine.feed(event))
    out.extend(engine.feed({"type": "call.end", "call_id": call_id, "t_ms": 10**6}))
    return anonymous(out)


@pytest.fixture
def fresh_rules(tmp_path: Path) -> CompiledRules:
    """The playbook under a new digest, so its durable_rules sessions have never been used."""
    pack = tmp_path / "playbook"
    shutil.copytree(PLAYBOOK, pack)
    manifest = pack / "pack.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "description: Handling", f"description: ({tmp_path.name}) Handling"), encoding="utf-8")
    rules = load_rules(tmp_path)
    assert rules.digest != load_rules().digest
    return rules


def test_a_call_on_a_reused_slot_behaves_as_on_a_fresh_one(fresh_rules):
    engine = Engine(fresh_rules, max_calls=1)  # one slot: every call after the first reuses it
    try:
        on_fresh_slot = run(engine, "b0", DIALOGUE)
        assert any(d["kind"] == "prompt" for d in on_fresh_slot)
        run(engine, "a", OTHER)
        run(engine, "a2", DIALOGUE[:3])  # ended mid-way, with prompts still open
        assert run(engine, "b1", DIALOGUE) == on_fresh_slot
    finally:
        engine.close()


def test_two_thousand_sequential_calls_through_ten_slots_give_identical_outputs(rules):
    engine = Engine(rules, max_calls=10)
    try:
        expected = run(engine, "call-0", DIALOGUE)
        for n in range(1, 2000):
            assert run(engine, f"call-{n}", DIALOGUE) == expected, f"call {n} differs"
        assert engine.open_calls == []
    finally:
        engine.close()


def test_interleaved_calls_at_capacity_do_not_leak_into_each_other(rules):
    engine = Engine(rules, max_calls=10)
    try:
        reference = {"d": run(engine, "ref-d", DIALOGUE), "o": run(engine, "ref-o", OTHER)}
        for wave in range(10):
            ids = [(f"w{wave}-{i}", "d" if i % 2 else "o") for i in range(10)]
            streams = {cid: dialogue_events(cid, "en", DIALOGUE if kind == "d" else OTHER) for cid, kind in ids}
            got: dict[str, list[Output]] = {cid: [] for cid, _ in ids}
            for step in range(max(len(s) for s in streams.values())):
                for cid, events in streams.items():
                    if step < len(events):
                        got[cid].extend(engine.feed(events[step]))
            for cid, kind in ids:
                got[cid].extend(engine.feed({"type": "call.end", "call_id": cid, "t_ms": 10**6}))
                assert anonymous(got[cid]) == reference[kind], f"{cid} differs from a lone call"
    finally:
        engine.close()


@pytest.mark.parametrize("prefilter", [True, False])
def test_every_rule_an_utterance_matches_fires(rules, prefilter):
    engine = Engine(rules, prefilter=prefilter)
    try:
        engine.feed({"type": "call.start", "call_id": "x", "lang": "en", "t_ms": 0})
        engine.feed({"type": "utterance", "call_id": "x", "speaker": "customer", "text": "Hello.",
                     "start_ms": 0, "end_ms": 500})  # prompts wait until the customer has spoken
        outputs = engine.feed({"type": "utterance", "call_id": "x", "speaker": "agent",
                               "text": "Calm down, we can't change it, it's company policy.",
                               "start_ms": 0, "end_ms": 3000})
        assert [(o.rule, o.severity) for o in outputs if isinstance(o, Prompt)] == [
            ("no-blame", "urgent"), ("avoid-policy", "warn"), ("offer-alternative", "info")]
    finally:
        engine.close()


def test_more_concurrent_calls_than_durable_rules_allows_sessions_each_behave_as_alone(rules):
    # durable_rules corrupts a ruleset past 1,024 live sessions; every call shares one session instead
    calls = 1100
    engine = Engine(rules, max_calls=calls)
    try:
        alone = run(engine, "alone", DIALOGUE[:4])
        streams = [dialogue_events(f"c{i}", "en", DIALOGUE[:4]) for i in range(calls)]
        got: list[list[Output]] = [[] for _ in range(calls)]
        for step in range(len(streams[0])):
            for i, events in enumerate(streams):
                got[i].extend(engine.feed(events[step]))
        for i in range(calls):
            got[i].extend(engine.feed({"type": "call.end", "call_id": f"c{i}", "t_ms": 10**6}))
            assert anonymous(got[i]) == alone, f"call c{i} differs from a lone call"
    finally:
        engine.close()
