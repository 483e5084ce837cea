"""A prompt goes away by itself once the agent does what it asked - including when the agent says the
very phrase the prompt suggested. For every rule whose `say` quotes a complete phrase (templates with
"…" to fill in are left out), replay one of its firing cases, let the agent say the phrase, and expect
the prompt to be resolved."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assist import DEFAULT_RULES, Engine, Prompt, Resolved
from assist.rulepack.cases import dialogue_events
from assist.rulepack.compile import compile_packs
from assist.rulepack.load import load_packs

PACKS = load_packs(Path(DEFAULT_RULES))
RULES = compile_packs(PACKS)
QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|„([^“]+)“')


def _suggestions() -> list[tuple[str, str, str]]:
    out = []
    for pack in PACKS:
        for rule in pack.rules:
            if not rule.resolved_by:
                continue
            for lang, say in rule.say.items():
                phrase = " ".join("".join(groups) for groups in QUOTED.findall(say))
                if phrase and "…" not in phrase:
                    out.append((rule.id, lang, phrase))
    return out


@pytest.mark.parametrize(("rule_id", "lang", "phrase"), _suggestions())
def test_saying_the_suggested_phrase_resolves_the_prompt(rule_id: str, lang: str, phrase: str) -> None:
    rule = next(r for p in PACKS for r in p.rules if r.id == rule_id)
    case = next(c for c in rule.cases if c.lang == lang and c.expect == "fire")
    engine = Engine(RULES)
    call_id = f"suggest-{rule_id}-{lang}"
    events = dialogue_events(call_id, lang, case.turns)
    prompt_id = None
    for ev in events:
        for out in engine.feed(ev):
            if isinstance(out, Prompt) and out.rule == rule_id:
                prompt_id = out.id
    assert prompt_id is not None, f"the firing case did not raise {rule_id}"
    t = max(int(e.get("end_ms", e.get("t_ms", 0))) for e in events) + 500  # type: ignore[call-overload]
    outputs = engine.feed({"type": "utterance", "call_id": call_id, "speaker": "agent", "text": phrase,
                           "start_ms": t, "end_ms": t + 3000})
    assert any(isinstance(o, Resolved) and o.id == prompt_id for o in outputs), (
        f"{rule_id} ({lang}): saying its own suggestion {phrase!r} did not resolve the prompt")
