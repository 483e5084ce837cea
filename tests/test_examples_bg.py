"""The Bulgarian example calls raise the prompts a Bulgarian agent needs, in Bulgarian."""

from __future__ import annotations

import pytest

from assist import Engine, Prompt, Resolved, Summary, load_rules
from assist.bundle import EXAMPLES
from assist.formats import ReadOptions, read_file


def _replay(name: str) -> tuple[list[Prompt], set[str], Summary]:
    rules = load_rules()
    engine = Engine(rules)
    outputs = []
    try:
        for item in read_file(EXAMPLES / name, None, ReadOptions(call_id=name)):
            assert item.problem is None, item.problem
            outputs.extend(engine.feed(item.event))
    finally:
        engine.close()
    prompts = [o for o in outputs if isinstance(o, Prompt)]
    assert all(p.say == rules.rules[p.rule].say["bg"] for p in prompts)
    (summary,) = [o for o in outputs if isinstance(o, Summary)]
    return prompts, {o.rule for o in outputs if isinstance(o, Resolved)}, summary


@pytest.mark.parametrize("name", ["double_charge_angry_bg.txt", "demo_bg.jsonl"])
def test_the_angry_double_charge_call(name: str) -> None:
    prompts, resolved, summary = _replay(name)
    raised = [p.rule for p in prompts]
    assert raised == ["tip-angry", "acknowledge-before-apology", "acknowledge-emotion", "avoid-policy"]
    assert resolved == set(raised)  # the agent recovers: acknowledges, then gives the reason and an option
    assert summary.top == "angry"
    assert summary.checklist["acknowledged_emotion"] and summary.checklist["summarized_with_time"]


def test_the_confused_elderly_caller() -> None:
    prompts, resolved, summary = _replay("confused_elderly_bg.txt")
    assert [p.rule for p in prompts] == ["tip-vulnerable", "slow-down"]
    assert resolved == {"tip-vulnerable", "slow-down"}  # "стъпка по стъпка" does both
    assert summary.top == "vulnerable"
    assert summary.checklist["checked_satisfaction"]
