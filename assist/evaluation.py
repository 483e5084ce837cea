"""How well a rule pack notices difficult customers: replayed calls against labels a person gave.

``read_labels(path)`` reads ``{call_id: {"difficult": true|false}}`` (or numeric scores, see
:func:`read_labels`); ``evaluate(outcomes, labels)`` is pure and returns an ``Evaluation``;
``outcomes(steps, engine)`` turns replay steps into one ``CallOutcome`` per call.
A call is **noticed** when its final top customer type is in the noticed set, or it raised a rule in it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist.core.engine import Engine
from assist.core.normalize import base_lang
from assist.core.outputs import Classification, Prompt, Summary
from assist.errors import AssistError
from assist.replay import Problem, Step

NEGATIVE_TYPES = ("angry", "abusive", "impatient", "demanding", "chronic_complainer")
EMOTION_RULES = ("acknowledge-emotion", "acknowledge-before-apology")
ALARM_TYPES = ("angry", "abusive")  # what a calm customer must not be called
UNKNOWN_LANG = "unknown"


class LabelsError(AssistError):
    """A labels file is not what `assist eval` expects."""


def default_noticed() -> frozenset[str]:
    """The negative customer types and the rules that show an emotion was noticed."""
    tips = (f"tip-{t.replace('_', '-')}" for t in NEGATIVE_TYPES)
    return frozenset((*NEGATIVE_TYPES, *EMOTION_RULES, *tips))


@dataclass(frozen=True, slots=True)
class Labels:
    difficult: dict[str, bool]                 # call id → difficult?
    between: frozenset[str] = frozenset()      # scored, but neither difficult nor fine (left out)


def read_labels(path: str | Path, *, score: str | None = None, difficult_at_most: float = -1.0,
                fine_above: float = 0.0) -> Labels:
    """``{call_id: {"difficult": bool}}``; with `score`, ``{call_id: {score: number}}`` instead: difficult
    when the number is at most `difficult_at_most`, fine when above `fine_above`, else left out."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelsError(f"{path}: expected a JSON object of call id → label, could not read it ({exc})") from exc
    if not isinstance(raw, dict):
        raise LabelsError(f"{path}: expected a JSON object of call id → label, got {type(raw).__name__}")
    labels: dict[str, bool] = {}
    between: set[str] = set()
    for call_id, value in raw.items():
        key = score or "difficult"
        got = value.get(key) if isinstance(value, dict) else None
        if score is None:
            if not isinstance(got, bool):
                raise LabelsError(f"{path}: call '{call_id}': expected {{\"difficult\": true|false}}, got "
                                  f"{json.dumps(value)[:80]}")
            labels[call_id] = got
            continue
        if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(got):
            raise LabelsError(f"{path}: call '{call_id}': expected a number under '{score}', got "
                              f"{json.dumps(value)[:80]}")
        if got <= difficult_at_most:
            labels[call_id] = True
        elif got > fine_above:
            labels[call_id] = False
        else:
            between.add(call_id)
    return Labels(labels, frozenset(between))


@dataclass(slots=True)
class CallOutcome:
    """What the engine made of one call."""

    call_id: str
    lang: str = UNKNOWN_LANG
    top: str | None = None                            # the summary's top customer type
    tops: set[str] = field(default_factory=set)       # every type that was top at some point
    rules: set[str] = field(default_factory=set)      # rules that raised a prompt


def outcomes(steps: Iterable[Step | Problem], engine: Engine) -> Iterator[CallOutcome | Problem]:
    """One outcome per call, yielded at its end; problems in the input are passed through.
    `engine` is the one the steps come from (the call's detected language is read from it)."""
    open_calls: dict[str, CallOutcome] = {}
    for step in steps:
        if isinstance(step, Problem):
            yield step
            continue
        cid = step.event.call_id
        oc = open_calls.get(cid)
        if oc is None:
            oc = open_calls[cid] = CallOutcome(cid)
        view = engine.view(cid)
        if view is not None and view.lang is not None:
            oc.lang = base_lang(view.lang) or UNKNOWN_LANG
        for out in step.outputs:
            if isinstance(out, Prompt):
                oc.rules.add(out.rule)
            elif isinstance(out, Classification) and out.top is not None:
                oc.tops.add(out.top)
            elif isinstance(out, Summary):
                oc.top = out.top
                yield open_calls.pop(cid)


@dataclass(slots=True)
class Tally:
    """Calls of one group (a language, a type, a rule): the difficult and fine ones it holds."""

    difficult: list[str] = field(default_factory=list)
    fine: list[str] = field(default_factory=list)

    def add(self, call_id: str, difficult: bool) -> None:
        (self.difficult if difficult else self.fine).append(call_id)

    def to_dict(self, of: Tally | None = None) -> dict[str, Any]:
        """Counts and ids; with `of` (the group's totals), also the fractions of it."""
        out: dict[str, Any] = {"difficult": len(self.difficult), "fine": len(self.fine)}
        if of is not None:
            out["of_difficult"] = _frac(len(self.difficult), len(of.difficult))
            out["of_fine"] = _frac(len(self.fine), len(of.fine))
        out["difficult_calls"] = sorted(self.difficult)
        out["fine_calls"] = sorted(self.fine)
        return out


@dataclass(slots=True)
class Group:
    """One population (all calls, or one language): who is in it, who was noticed, what fired."""

    calls: Tally = field(default_factory=Tally)
    noticed: Tally = field(default_factory=Tally)
    alarmed: Tally = field(default_factory=Tally)   # ever classified angry or abusive
    types: dict[str, Tally] = field(default_factory=dict)   # final top type → calls
    rules: dict[str, Tally] = field(default_factory=dict)   # rule → calls that raised it

    def add(self, oc: CallOutcome, difficult: bool, noticed: bool) -> None:
        self.calls.add(oc.call_id, difficult)
        if noticed:
            self.noticed.add(oc.call_id, difficult)
        if oc.tops & set(ALARM_TYPES) or oc.top in ALARM_TYPES:
            self.alarmed.add(oc.call_id, difficult)
        self.types.setdefault(oc.top or "none", Tally()).add(oc.call_id, difficult)
        for rule in oc.rules:
            self.rules.setdefault(rule, Tally()).add(oc.call_id, difficult)

    @property
    def noticed_difficult(self) -> float | None:
        return _frac(len(self.noticed.difficult), len(self.calls.difficult))

    @property
    def noticed_fine(self) -> float | None:
        return _frac(len(self.noticed.fine), len(self.calls.fine))

    @property
    def gap(self) -> float | None:
        nd, nf = self.noticed_difficult, self.noticed_fine
        return None if nd is None or nf is None else round(nd - nf, 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": len(self.calls.difficult) + len(self.calls.fine),
            "difficult": len(self.calls.difficult), "fine": len(self.calls.fine),
            "noticed_difficult": self.noticed_difficult, "noticed_fine": self.noticed_fine, "gap": self.gap,
            "noticed": self.noticed.to_dict(),
            "missed_difficult_calls": sorted(set(self.calls.difficult) - set(self.noticed.difficult)),
            "angry_or_abusive": self.alarmed.to_dict(self.calls),
            "types": {t: v.to_dict(self.calls) for t, v in sorted(self.types.items())},
            "rules": {r: v.to_dict(self.calls) for r, v in sorted(self.rules.items())},
        }


@dataclass(slots=True)
class Evaluation:
    noticed_by: frozenset[str]
    overall: Group = field(default_factory=Group)
    languages: dict[str, Group] = field(default_factory=dict)
    unlabelled: list[str] = field(default_factory=list)      # replayed calls with no label
    left_out: list[str] = field(default_factory=list)        # scored between the thresholds
    labels_without_call: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.overall.to_dict(),
            "noticed_by": sorted(self.noticed_by),
            "languages": {lang: g.to_dict() for lang, g in sorted(self.languages.items())},
            "unlabelled_calls": sorted(self.unlabelled),
            "left_out_calls": sorted(self.left_out),
            "labels_without_call": sorted(self.labels_without_call),
        }


def is_noticed(oc: CallOutcome, noticed_by: frozenset[str]) -> bool:
    return oc.top in noticed_by or not oc.rules.isdisjoint(noticed_by)


def evaluate(calls: Iterable[CallOutcome], labels: Labels,
             noticed_by: frozenset[str] | None = None) -> Evaluation:
    """Figures over every labelled call; calls without a label and labels without a call are listed."""
    ev = Evaluation(noticed_by if noticed_by is not None else default_noticed())
    seen: set[str] = set()
    for oc in calls:
        seen.add(oc.call_id)
        difficult = labels.difficult.get(oc.call_id)
        if difficult is None:
            (ev.left_out if oc.call_id in labels.between else ev.unlabelled).append(oc.call_id)
            continue
        noticed = is_noticed(oc, ev.noticed_by)
        ev.overall.add(oc, difficult, noticed)
        ev.languages.setdefault(oc.lang, Group()).add(oc, difficult, noticed)
    ev.labels_without_call = sorted(set(labels.difficult) - seen)
    return ev


def check_noticed(names: Iterable[str], types: Mapping[str, object], rules: Mapping[str, object]) -> list[str]:
    """Names given to --noticed that are neither a customer type nor a rule of the loaded packs."""
    return [n for n in names if n not in types and n not in rules]


def _frac(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f} %"


def _ids(ids: list[str], n: int = 3) -> str:
    shown = ", ".join(sorted(ids)[:n])
    return shown + (f" … +{len(ids) - n}" if len(ids) > n else "")


def _tally_rows(title: str, tallies: dict[str, Tally], of: Tally) -> list[str]:
    rows = [f"{title:28} {'difficult':>16} {'fine':>16}  e.g."]
    for name, t in sorted(tallies.items(), key=lambda kv: (-len(kv[1].difficult), kv[0])):
        d = f"{len(t.difficult)} ({_pct(_frac(len(t.difficult), len(of.difficult)))})"
        f = f"{len(t.fine)} ({_pct(_frac(len(t.fine), len(of.fine)))})"
        rows.append(f"{name:28} {d:>16} {f:>16}  {_ids(t.difficult or t.fine)}")
    return rows


def table(ev: Evaluation) -> str:
    """The evaluation for a terminal: headline per language, then final types and rules (--json has every id)."""
    head = (f"{'':10} {'calls':>6} {'difficult':>9} {'fine':>6} {'noticed difficult':>18} "
            f"{'noticed fine':>13} {'gap':>6} {'angry/abusive among fine':>25}")
    lines = [f"noticed = final top type or a raised rule among: {', '.join(sorted(ev.noticed_by))}", "", head]
    for name, g in [("all", ev.overall), *sorted(ev.languages.items())]:
        nd = f"{_pct(g.noticed_difficult)} ({len(g.noticed.difficult)})"
        nf = f"{_pct(g.noticed_fine)} ({len(g.noticed.fine)})"
        alarm = f"{_pct(_frac(len(g.alarmed.fine), len(g.calls.fine)))} ({len(g.alarmed.fine)})"
        gap = "-" if g.gap is None else f"{g.gap:.2f}"
        lines.append(f"{name:10} {len(g.calls.difficult) + len(g.calls.fine):>6} {len(g.calls.difficult):>9} "
                     f"{len(g.calls.fine):>6} {nd:>18} {nf:>13} {gap:>6} {alarm:>25}")
    g = ev.overall
    missed = sorted(set(g.calls.difficult) - set(g.noticed.difficult))
    lines += ["", f"missed difficult calls ({len(missed)}): {_ids(missed, 5)}",
              f"noticed fine calls ({len(g.noticed.fine)}): {_ids(g.noticed.fine, 5)}", ""]
    lines += [*_tally_rows("final top type", g.types, g.calls), ""]
    lines += _tally_rows("rule raised", g.rules, g.calls)
    if ev.unlabelled:
        lines += ["", f"{len(ev.unlabelled)} replayed call(s) have no label: {_ids(ev.unlabelled, 5)}"]
    if ev.left_out:
        lines += [f"{len(ev.left_out)} call(s) scored between the thresholds were left out"]
    if ev.labels_without_call:
        lines += [f"{len(ev.labels_without_call)} label(s) name no replayed call: {_ids(ev.labels_without_call, 5)}"]
    return "\n".join(lines)
