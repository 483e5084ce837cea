"""Run the test cases stored beside each rule: 'fire' cases must raise the rule on their last turn,
'quiet' cases must never raise it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assist.core.compiled import CompiledRules
from assist.core.engine import Engine
from assist.core.normalize import estimate_ms
from assist.core.outputs import Prompt
from assist.rulepack.load import RulePack
from assist.rulepack.schema import Case, CaseStep

TURN_GAP_MS = 1500


@dataclass(frozen=True, slots=True)
class CaseResult:
    rule: str
    index: int
    case: Case
    passed: bool
    fired_on: list[int]  # 1-based turns on which the rule fired
    where: str

    def describe(self) -> str:
        turns = " / ".join(f"{t.speaker}: {t.text}" if t.speaker else f"({t.silence_ms} ms silence)"
                           for t in self.case.turns)
        got = f"fired on turn(s) {self.fired_on}" if self.fired_on else "did not fire"
        want = "fire on the last turn" if self.case.expect == "fire" else "stay quiet"
        return f"{self.where}: case {self.index + 1} ({self.case.lang}) expected to {want}, {got}: {turns[:160]}"


def dialogue_events(call_id: str, lang: str, turns: Sequence[CaseStep]) -> list[dict[str, object]]:
    """A case's turns as native events: utterances at a natural speaking rate (or given times), silences
    as ticks."""
    events: list[dict[str, object]] = [{"type": "call.start", "call_id": call_id, "lang": lang, "t_ms": 0}]
    t = 0
    for turn in turns:
        if turn.silence_ms is not None:
            t += turn.silence_ms
            events.append({"type": "tick", "call_id": call_id, "t_ms": t})
            continue
        start = turn.start_ms if turn.start_ms is not None else t + TURN_GAP_MS
        end = turn.end_ms if turn.end_ms is not None else start + estimate_ms(turn.text)
        t = max(t, end)
        events.append({"type": "utterance", "call_id": call_id, "speaker": turn.speaker, "text": turn.text,
                       "start_ms": start, "end_ms": end, "final": True})
    return events


def run_case(engine: Engine, rule_id: str, index: int, case: Case, where: str) -> CaseResult:
    call_id = f"case:{rule_id}:{index}"
    fired: list[int] = []
    events = dialogue_events(call_id, case.lang, case.turns)
    for n, event in enumerate(events):
        for out in engine.feed(event):
            if isinstance(out, Prompt) and out.rule == rule_id:
                fired.append(n)
    engine.end_call(call_id, 10**9)
    last = len(events) - 1
    passed = (last in fired) if case.expect == "fire" else not fired
    return CaseResult(rule_id, index, case, passed, fired, where)


def run_cases(packs: list[RulePack], rules: CompiledRules, only: set[str] | None = None) -> list[CaseResult]:
    engine = Engine(rules)
    results: list[CaseResult] = []
    for pack in packs:
        for rule in pack.rules:
            if only and rule.id not in only:
                continue
            source = pack.rule_sources[rule.id]
            for i, case in enumerate(rule.cases):
                results.append(run_case(engine, rule.id, i, case, source.at(("cases", i))))
    return results
