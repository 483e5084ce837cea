"""Which rules help and which are noise: figures over the outputs of many replayed calls.

``aggregate(outputs)`` is pure: it takes the engine's outputs (prompt, resolved, expired, classification,
summary…, in any order, any number of calls interleaved) and returns a ``Report``. ``table(report)`` renders
it for a terminal; ``Report.to_dict()`` is the ``assist report --json`` object.
"""

from __future__ import annotations

import csv
import io
import math
import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from assist.core.outputs import Expired, Output, Prompt, Resolved, Summary

FEEDBACK_ACTIONS = ("helpful", "not_helpful", "dismiss", "ack")
NO_TYPE = "none"  # the top type of a call in which no customer type reached the threshold


@dataclass(slots=True)
class RuleStats:
    """One rule across every call: what it raised and what became of it."""

    rule: str
    raised: int = 0
    calls: int = 0  # calls in which it raised at least one prompt
    resolved: int = 0
    expired_timeout: int = 0
    expired_superseded: int = 0
    resolve_ms: list[int] = field(default_factory=list)  # resolved t_ms - prompt t_ms, per prompt id
    feedback: Counter[str] = field(default_factory=Counter)  # action → count

    @property
    def resolved_rate(self) -> float | None:
        return self.resolved / self.raised if self.raised else None

    @property
    def not_done(self) -> int:
        """Neither resolved nor expired: closed from the sidebar (ack/dismiss) or still open at call end."""
        return max(0, self.raised - self.resolved - self.expired_timeout - self.expired_superseded)

    @property
    def helpful_ratio(self) -> float | None:
        """helpful / (helpful + not helpful); None when nobody voted."""
        votes = self.feedback["helpful"] + self.feedback["not_helpful"]
        return self.feedback["helpful"] / votes if votes else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "raised": self.raised, "calls": self.calls, "resolved": self.resolved,
            "resolved_rate": _round(self.resolved_rate),
            "median_resolve_ms": _ms(percentile(self.resolve_ms, 50)),
            "p90_resolve_ms": _ms(percentile(self.resolve_ms, 90)),
            "expired": {"timeout": self.expired_timeout, "superseded": self.expired_superseded},
            "not_done": self.not_done,
            "feedback": {a: self.feedback[a] for a in FEEDBACK_ACTIONS},
            "helpful_ratio": _round(self.helpful_ratio),
        }


@dataclass(slots=True)
class Report:
    calls: int = 0
    prompts: int = 0
    rules: dict[str, RuleStats] = field(default_factory=dict)
    prompts_per_call: list[int] = field(default_factory=list)  # one entry per call (summary), call order
    top_types: Counter[str] = field(default_factory=Counter)  # top customer type per call
    checklist: dict[str, tuple[int, int]] = field(default_factory=dict)  # item → (done, applicable)

    def to_dict(self) -> dict[str, Any]:
        per_call = self.prompts_per_call
        return {
            "calls": self.calls,
            "prompts": self.prompts,
            "prompts_per_call": {
                "mean": _round(sum(per_call) / len(per_call)) if per_call else None,
                "median": percentile(per_call, 50),
                "max": max(per_call) if per_call else None,
            },
            "rules": [s.to_dict() for s in sorted_rules(self)],
            "customer_types": dict(self.top_types.most_common()),
            "checklist": {item: {"done": done, "applicable": n, "rate": _round(done / n if n else None)}
                          for item, (done, n) in self.checklist.items()},
        }


def aggregate(outputs: Iterable[Output]) -> Report:
    """Fold engine outputs into a Report. Calls are counted by their summaries; resolution times pair a
    `resolved` with its `prompt` by prompt id (ids are unique per call, so across calls too)."""
    report = Report()
    prompt_t: dict[str, int] = {}
    rule_calls: set[tuple[str, str]] = set()
    for out in outputs:
        if isinstance(out, Prompt):
            stats = _rule(report, out.rule)
            stats.raised += 1
            report.prompts += 1
            prompt_t[out.id] = out.t_ms
            if (out.call_id, out.rule) not in rule_calls:
                rule_calls.add((out.call_id, out.rule))
                stats.calls += 1
        elif isinstance(out, Resolved):
            stats = _rule(report, out.rule)
            stats.resolved += 1
            if out.id in prompt_t:
                stats.resolve_ms.append(out.t_ms - prompt_t[out.id])
        elif isinstance(out, Expired):
            stats = _rule(report, out.rule)
            if out.reason == "timeout":
                stats.expired_timeout += 1
            else:
                stats.expired_superseded += 1
        elif isinstance(out, Summary):
            _add_summary(report, out)
    return report


def _add_summary(report: Report, s: Summary) -> None:
    report.calls += 1
    report.prompts_per_call.append(sum(s.prompts.values()))
    report.top_types[s.top or NO_TYPE] += 1
    for rule, actions in s.feedback.items():
        _rule(report, rule).feedback.update(actions)
    for item, value in s.checklist.items():
        done, n = report.checklist.get(item, (0, 0))
        if value is not None:
            done, n = done + int(value), n + 1
        report.checklist[item] = (done, n)


def _rule(report: Report, rule: str) -> RuleStats:
    stats = report.rules.get(rule)
    if stats is None:
        stats = report.rules[rule] = RuleStats(rule)
    return stats


def sorted_rules(report: Report) -> list[RuleStats]:
    """Most raised first; the rule id breaks ties so the order is stable."""
    return sorted(report.rules.values(), key=lambda s: (-s.raised, s.rule))


def percentile(values: list[int], q: float) -> float | None:
    """The q-th percentile with linear interpolation between closest ranks (numpy's default); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _ms(x: float | None) -> int | None:
    return None if x is None else round(x)


# -- the terminal table and the spreadsheet -----------------------------------------------------------
WIDTH = 100  # the table fits a 100-column terminal
RULE_WIDTH = 30  # longer rule ids are shortened with an ellipsis (the CSV and JSON keep them whole)
CSV_COLUMNS = ("rule", "raised", "calls", "resolved", "resolved_rate", "median_resolve_s", "p90_resolve_s",
               "expired_timeout", "expired_superseded", "open", "helpful", "not_helpful", "dismiss", "ack",
               "helpful_ratio")


def table(report: Report) -> str:
    """The report as plain text no wider than WIDTH: headline figures, one row per rule (what became of
    its prompts), the agents' votes where there are any, customer types, checklist."""
    d = report.to_dict()
    ppc = d["prompts_per_call"]
    lines = [f"{report.calls} call(s), {report.prompts} prompt(s)"
             + (f"; per call mean {ppc['mean']:g}, median {ppc['median']:g}, max {ppc['max']}"
                if report.calls else ""), ""]
    ranked = sorted_rules(report)
    rows: list[tuple[str, ...]] = [("rule", "raised", "calls", "resolved", "rate", "median", "p90", "timeout",
                                    "supers.", "open")]
    rows += [(_short(s.rule), str(s.raised), str(s.calls), str(s.resolved), _pct(s.resolved_rate),
              _secs(percentile(s.resolve_ms, 50)), _secs(percentile(s.resolve_ms, 90)),
              str(s.expired_timeout), str(s.expired_superseded), str(s.not_done)) for s in ranked]
    lines.extend(_columns(rows) if len(rows) > 1 else ["no prompts raised"])
    voted = [s for s in ranked if sum(s.feedback.values())]
    if voted:
        lines += ["", "agents' feedback from the sidebar:"]
        lines.extend(_columns([("rule", "helpful", "not helpful", "dismiss", "ack", "h.ratio"), *[
            (_short(s.rule), str(s.feedback["helpful"]), str(s.feedback["not_helpful"]), str(s.feedback["dismiss"]),
             str(s.feedback["ack"]), _pct(s.helpful_ratio)) for s in voted]]))
    lines.append("")
    lines.append(_wrap("customer types (top type per call): " + (", ".join(
        f"{t} {n}" for t, n in report.top_types.most_common()) or "-")))
    lines.append(_wrap("checklist: " + (" · ".join(
        f"{item} {done}/{n} ({_pct(done / n if n else None)})" for item, (done, n) in report.checklist.items())
        or "-")))
    lines.append("")
    lines.append(_wrap("rate: resolved by the agent / raised; median, p90: time from prompt to resolution; "
                       "timeout, supers.: expired unanswered or superseded; open: neither resolved nor expired "
                       "(closed from the sidebar or open at call end); h.ratio: helpful / (helpful + not helpful)"))
    return "\n".join(lines)


def csv_text(report: Report) -> str:
    """One row per rule with every figure, full rule ids and plain numbers (seconds, rates 0-1, blank when
    there is none), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in sorted_rules(report):
        median, p90 = percentile(s.resolve_ms, 50), percentile(s.resolve_ms, 90)
        writer.writerow([s.rule, s.raised, s.calls, s.resolved, _blank(_round(s.resolved_rate)),
                         _blank(None if median is None else round(median / 1000, 3)),
                         _blank(None if p90 is None else round(p90 / 1000, 3)), s.expired_timeout,
                         s.expired_superseded, s.not_done, *(s.feedback[a] for a in FEEDBACK_ACTIONS),
                         _blank(_round(s.helpful_ratio))])
    return out.getvalue()


def _blank(x: float | None) -> str | float:
    return "" if x is None else x


def _short(rule: str) -> str:
    return rule if len(rule) <= RULE_WIDTH else rule[:RULE_WIDTH - 1] + "…"


def _wrap(text: str) -> str:
    return textwrap.fill(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False)


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _secs(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f}s"
