"""A replay as one self-contained HTML page: per call, both speakers on a timeline, the prompts at their
moments with what became of them, the customer type scores over time (inline SVG) and the summary.

``render_html(items)`` takes what ``assist.replay.replay`` yields and returns the page; no network, every
text escaped. ``write_html(path, items)`` writes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from assist.core.events import AnyEvent, CallEnd, CallStart, Feedback, Tick, Utterance, event_time
from assist.core.normalize import detect_lang
from assist.core.outputs import (
    CallWarning,
    Classification,
    EngineFault,
    Expired,
    Output,
    Prompt,
    Resolved,
    Summary,
    Transferred,
)
from assist.replay import Problem, Step

_PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
_CSS = """
:root{--urgent:#c62828;--warn:#b26a00;--info:#1565c0;--ok:#2e7d32;--agent:#e3f0ff;--customer:#fdecef;
--muted:#5f6368;--line:#dadce0}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","Noto Sans CJK TC",sans-serif;
margin:0;color:#202124;background:#f6f7f9}
header.page{padding:16px 24px;background:#202124;color:#fff}
header.page h1{margin:0 0 4px;font-size:20px}
header.page a{color:#9ecbff;margin-right:12px}
main{padding:16px 24px;max-width:1400px}
.problems{background:#fff3e0;border:1px solid #ffb74d;padding:8px 12px;margin-bottom:16px}
section.call{background:#fff;border:1px solid var(--line);border-radius:8px;margin-bottom:28px;padding:16px}
section.call h2{margin:0 0 2px;font-size:18px}
.meta{color:var(--muted);font-size:13px;margin-bottom:12px}
.grid{display:grid;grid-template-columns:5.5em minmax(0,1.2fr) minmax(0,1fr);column-gap:14px}
.grid>.hd{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;border-bottom:1px solid
var(--line);padding-bottom:4px;margin-bottom:6px}
.t{color:var(--muted);font-variant-numeric:tabular-nums;font-size:13px;padding-top:8px}
.talk,.rail{padding:4px 0;border-top:1px dashed #eee}
.u{padding:6px 10px;border-radius:10px;max-width:85%;width:fit-content}
.u .who{font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;display:block}
.u.customer{background:var(--customer);border:1px solid #f4b6c2}
.u.customer .who{color:#ad1457}
.u.agent{background:var(--agent);border:1px solid #a9c8f5;margin-left:auto}
.u.agent .who{color:#0d47a1}
.note{color:var(--muted);font-size:13px;font-style:italic}
.card{border:1px solid var(--line);border-left:5px solid var(--info);border-radius:6px;padding:6px 10px;margin:4px 0;
background:#fbfcff}
.card.warn{border-left-color:var(--warn);background:#fffaf0}
.card.urgent{border-left-color:var(--urgent);background:#fff5f5}
.sev{font-size:11px;font-weight:700;color:#fff;background:var(--info);border-radius:3px;padding:1px 5px;
margin-right:6px}
.warn .sev{background:var(--warn)}.urgent .sev{background:var(--urgent)}
.rule{font-weight:600}
.say{margin:3px 0}
.why{color:var(--muted);font-size:13px}
.fate{font-size:13px;margin-top:3px}
.fate.resolved{color:var(--ok)}.fate.expired,.fate.open{color:var(--muted)}.fate.closed{color:#6a1b9a}
.mark{font-size:13px;margin:2px 0}.mark.resolved{color:var(--ok)}.mark.expired{color:var(--muted)}
.mark.cls{color:#37474f;font-weight:600}.mark.fault{color:var(--urgent)}
.chart{margin:14px 0 6px}.chart h3,.summary h3{font-size:14px;margin:0 0 4px}
.legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend .sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.summary table{border-collapse:collapse;font-size:13px;margin:4px 0 8px}
.summary td,.summary th{border:1px solid var(--line);padding:3px 8px;text-align:left}
.yes{color:var(--ok);font-weight:600}.no{color:var(--urgent);font-weight:600}.na{color:var(--muted)}
body.prompts-only .row-plain{display:none}
"""
_JS = """
document.getElementById('prompts-only').addEventListener('change', function (e) {
  document.body.classList.toggle('prompts-only', e.target.checked);
});
"""


@dataclass(slots=True)
class _Call:
    call_id: str
    source: str
    start_ms: int = 0
    agent_id: str | None = None
    lang: str | None = None
    steps: list[Step] = field(default_factory=list)
    prompts: dict[str, Prompt] = field(default_factory=dict)
    # what closed each prompt first, and the time of the row it shows on (a turn's start, not its end)
    fate: dict[str, tuple[Resolved | Expired | Feedback, int]] = field(default_factory=dict)
    classes: list[Classification] = field(default_factory=list)
    summary: Summary | None = None


def render_html(items: Iterable[Step | Problem], title: str = "assist replay") -> str:
    """The whole page for a replay run: every call in the order it started, then nothing else to fetch."""
    calls: dict[str, _Call] = {}
    problems: list[Problem] = []
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
        else:
            _collect(calls, item)
    nav = "".join(f'<a href="#call-{_id(c.call_id)}">{escape(c.call_id)}</a>' for c in calls.values())
    head = (f'<header class="page"><h1>{escape(title)}</h1><div>{len(calls)} call(s) · '
            f'<label><input type="checkbox" id="prompts-only"> only moments with prompts</label></div>'
            f"<nav>{nav}</nav></header>")
    body = [_problems(problems)] + [_call(c) for c in calls.values()]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
            f"<body>{head}<main>{''.join(body)}</main><script>{_JS}</script></body></html>\n")


def write_html(path: str | Path, items: Iterable[Step | Problem], title: str = "assist replay") -> None:
    Path(path).write_text(render_html(items, title), encoding="utf-8")


def _collect(calls: dict[str, _Call], step: Step) -> None:
    ev = step.event
    call = calls.get(ev.call_id)
    if call is None:
        call = calls[ev.call_id] = _Call(ev.call_id, _source(step.where), start_ms=event_time(ev))
    if isinstance(ev, CallStart):
        call.start_ms, call.agent_id, call.lang = ev.t_ms, ev.agent_id, ev.lang
    row_t = _row_time(ev)
    if isinstance(ev, Feedback) and ev.action in ("ack", "dismiss"):
        call.fate.setdefault(ev.prompt_id, (ev, row_t))
    call.steps.append(step)
    for out in step.outputs:
        if isinstance(out, Prompt):
            call.prompts[out.id] = out
        elif isinstance(out, Resolved | Expired):
            call.fate.setdefault(out.id, (out, row_t))
        elif isinstance(out, Classification):
            call.classes.append(out)
        elif isinstance(out, Summary):
            call.summary = out


def _problems(problems: list[Problem]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{escape(str(p))}</li>" for p in problems)
    return f'<div class="problems"><strong>{len(problems)} problem(s) in the input</strong><ul>{items}</ul></div>'


def _call(c: _Call) -> str:
    lang = c.lang or detect_lang(" ".join(s.event.text for s in c.steps if isinstance(s.event, Utterance)))
    end = max((event_time(s.event) for s in c.steps), default=c.start_ms)
    meta = " · ".join(x for x in (f"agent {c.agent_id}" if c.agent_id else "", f"lang {c.lang or 'auto'}",
                                  f"{_clock(end - c.start_ms)} long", f"from {c.source}") if x)
    rows = "".join(_row(c, s) for s in c.steps)
    return (f'<section class="call" id="call-{_id(c.call_id)}" lang="{escape(lang)}">'
            f"<h2>call {escape(c.call_id)}</h2><div class=\"meta\">{escape(meta)}</div>"
            f'<div class="grid"><div class="hd">time</div><div class="hd">customer · agent</div>'
            f'<div class="hd">assist</div>{rows}</div>{_chart(c, end)}{_summary(c)}</section>')


def _row(c: _Call, s: Step) -> str:
    ev = s.event
    talk = _talk(c, ev)
    rail = "".join(_output(c, o) for o in s.outputs if not isinstance(o, Summary))
    if not talk and not rail:
        return ""
    t = _row_time(ev)
    plain = "" if any(isinstance(o, Prompt) for o in s.outputs) else " row-plain"
    return (f'<div class="t{plain}">{_clock(t - c.start_ms)}</div><div class="talk{plain}">{talk}</div>'
            f'<div class="rail{plain}">{rail}</div>')


def _talk(c: _Call, ev: AnyEvent) -> str:
    if isinstance(ev, Utterance):
        if not ev.final:
            return ""
        return (f'<div class="u {ev.speaker}"><span class="who">{ev.speaker}</span>{escape(ev.text)}</div>')
    if isinstance(ev, Feedback):
        p = c.prompts.get(ev.prompt_id)
        what = p.rule if p else ev.prompt_id
        return f'<div class="note">agent clicked “{escape(ev.action)}” on {escape(what)}</div>'
    if isinstance(ev, CallStart):
        return '<div class="note">call starts</div>'
    if isinstance(ev, CallEnd):
        return '<div class="note">call ends</div>'
    if isinstance(ev, Tick):
        return '<div class="note">(no speech)</div>'
    return ""


def _output(c: _Call, out: Output) -> str:
    if isinstance(out, Prompt):
        sup = " → supervisor" if out.supervisor else ""
        return (f'<div class="card {out.severity}"><span class="sev">{out.severity.upper()}</span>'
                f'<span class="rule">{escape(out.rule)}{sup}</span><div class="say">{escape(out.say)}</div>'
                f'<div class="why">why: {escape(out.why)}</div>{_fate(c, out)}</div>')
    if isinstance(out, Resolved):
        return f'<div class="mark resolved">✓ done: {escape(out.rule)}</div>'
    if isinstance(out, Expired):
        return f'<div class="mark expired">· {escape(out.reason)}: {escape(out.rule)}</div>'
    if isinstance(out, Classification):
        scores = ", ".join(f"{t} {s:.2f}" for t, s in list(out.types.items())[:3])
        return f'<div class="mark cls">◆ customer type: {escape(out.top or "none")} ({escape(scores)})</div>'
    if isinstance(out, EngineFault):
        return f'<div class="mark fault">engine fault in {escape(out.rule)}: {escape(out.error)}</div>'
    if isinstance(out, CallWarning):
        return f'<div class="mark fault">warning: {escape(out.message)}</div>'
    if isinstance(out, Transferred):
        return f'<div class="note">transferred to agent {escape(out.agent_id)}</div>'
    return ""


def _fate(c: _Call, p: Prompt) -> str:
    if p.id not in c.fate:
        return '<div class="fate open">still open at call end</div>'
    f, row_t = c.fate[p.id]
    at = _clock(row_t - c.start_ms)
    after = f"{((event_time(f) if isinstance(f, Feedback) else f.t_ms) - p.t_ms) / 1000:.1f} s after the prompt"
    if isinstance(f, Resolved):
        return (f'<div class="fate resolved">✓ resolved by the turn at {at}, {after}: '
                f"“{escape(f.by.text)}”</div>")
    if isinstance(f, Expired):
        return f'<div class="fate expired">expired ({escape(f.reason)}) at {at}, {after}</div>'
    return f'<div class="fate closed">closed in the sidebar ({escape(f.action)}) at {at}, {after}</div>'


def _chart(c: _Call, end: int) -> str:
    """Type scores as step lines: each classification holds until the next; the summary closes the call."""
    points = [(x.t_ms, x.types) for x in c.classes]
    if c.summary is not None and c.summary.types:
        points.append((c.summary.t_ms, c.summary.types))
    if not points:
        return '<div class="chart"><h3>customer type</h3><div class="note">no type reached the threshold</div></div>'
    types = list(dict.fromkeys(t for _, ts in points for t in ts))
    w, h, left, top, plot_h = 720, 170, 34, 10, 130
    span = max(end - c.start_ms, 1)

    def x(t: int) -> float:
        return left + (w - left - 10) * (t - c.start_ms) / span

    def y(s: float) -> float:
        return top + plot_h * (1 - s)

    parts = [f'<line x1="{left}" y1="{y(v):.1f}" x2="{w - 10}" y2="{y(v):.1f}" stroke="#eee"/>'
             f'<text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end" fill="#5f6368">{v:g}</text>'
             for v in (0, 0.5, 1)]
    for i, name in enumerate(types):
        colour = _PALETTE[i % len(_PALETTE)]
        path, prev = [], None
        for t, ts in points:
            s = ts.get(name, 0.0)
            if prev is not None:
                path.append(f"L{x(t):.1f},{y(prev):.1f}")
            path.append(f"{'M' if prev is None else 'L'}{x(t):.1f},{y(s):.1f}")
            parts.append(f'<circle cx="{x(t):.1f}" cy="{y(s):.1f}" r="3" fill="{colour}">'
                         f"<title>{escape(name)} {s:.2f} at {_clock(t - c.start_ms)}</title></circle>")
            prev = s
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>')
    parts.append(f'<text x="{left}" y="{h - 6}" font-size="10" fill="#5f6368">00:00</text>'
                 f'<text x="{w - 10}" y="{h - 6}" font-size="10" text-anchor="end" fill="#5f6368">'
                 f"{_clock(span)}</text>")
    legend = "".join(f'<span><span class="sw" style="background:{_PALETTE[i % len(_PALETTE)]}"></span>'
                     f"{escape(n)}</span>" for i, n in enumerate(types))
    return (f'<div class="chart"><h3>customer type scores over the call</h3><div class="note">at each change '
            "of the top type and at call end</div>"
            f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="customer type scores">'
            f'{"".join(parts)}</svg><div class="legend">{legend}</div></div>')


def _summary(c: _Call) -> str:
    s = c.summary
    if s is None:
        return ""
    rows = "".join(f"<tr><td>{escape(r)}</td><td>{n}</td><td>{s.resolved.get(r, 0)}</td>"
                   f"<td>{escape(_feedback(s.feedback.get(r, {})))}</td></tr>" for r, n in s.prompts.items())
    table = ("<table><tr><th>rule</th><th>raised</th><th>resolved</th><th>agent feedback</th></tr>"
             f"{rows}</table>") if rows else '<div class="note">no prompts</div>'
    checks = " · ".join(
        f'{escape(item)}: <span class="{_check_class(v)}">{_check_text(v)}</span>' for item, v in s.checklist.items())
    return (f'<div class="summary"><h3>summary</h3><div>{s.utterances} utterances · top type '
            f"<strong>{escape(s.top or 'none')}</strong> · {sum(s.prompts.values())} prompt(s), "
            f"{sum(s.resolved.values())} resolved</div>{table}<div>checklist: {checks or '-'}</div></div>")


def _feedback(actions: dict[str, int]) -> str:
    return ", ".join(f"{a} {n}" for a, n in actions.items()) or "-"


def _check_class(v: bool | None) -> str:
    return "na" if v is None else ("yes" if v else "no")


def _check_text(v: bool | None) -> str:
    return "n/a" if v is None else ("yes" if v else "no")


def _row_time(ev: AnyEvent) -> int:
    """Rows show when a turn started (as the terminal timeline does); other events at their time."""
    return ev.start_ms if isinstance(ev, Utterance) else event_time(ev)


def _clock(rel_ms: int) -> str:
    minutes, ms = divmod(max(0, rel_ms), 60_000)
    return f"{minutes:02d}:{ms / 1000:04.1f}"


def _id(call_id: str) -> str:
    """An id attribute value: call ids are free text, so anything outside [A-Za-z0-9_-] becomes '_'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", call_id)


def _source(where: str) -> str:
    path, _, line = where.rpartition(":")
    return path if path and line.isdigit() else where
