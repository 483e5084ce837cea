"""Render replay steps as a readable terminal timeline (colour only on a terminal)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from assist.core.events import AnyEvent, CallEnd, CallStart, Utterance
from assist.core.normalize import snippet
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

_COLOURS = {"urgent": "31;1", "warn": "33;1", "info": "36", "agent": "34", "customer": "35", "ok": "32",
            "dim": "2", "bad": "31", "head": "1"}
_MARK = {"urgent": "!!", "warn": "!", "info": "i"}


class Timeline:
    def __init__(self, out: TextIO | None = None, colour: bool | None = None):
        self.out = sys.stdout if out is None else out  # looked up now: sys.stdout may have been replaced
        self.colour = (self.out.isatty() and "NO_COLOR" not in os.environ) if colour is None else colour
        self._starts: dict[str, int] = {}
        self.problems = 0

    def _c(self, style: str, text: str) -> str:
        return f"\x1b[{_COLOURS[style]}m{text}\x1b[0m" if self.colour else text

    def _clock(self, call_id: str, t_ms: int) -> str:
        rel = max(0, t_ms - self._starts.get(call_id, 0))
        minutes, ms = divmod(rel, 60_000)
        return f"{minutes:02d}:{ms / 1000:04.1f}"

    def _print(self, line: str = "") -> None:
        print(line, file=self.out)

    def step(self, item: Step | Problem) -> None:
        if isinstance(item, Problem):
            self.problems += 1
            print(self._c("bad", f"error: {item}"), file=sys.stderr)
            return
        self.event(item.event)
        for out in item.outputs:
            self.output(out)
        if isinstance(item.event, CallEnd):
            self._print()

    def event(self, ev: AnyEvent) -> None:
        """A call's header line or a final utterance's line; other events print nothing."""
        if isinstance(ev, CallStart):
            self._starts[ev.call_id] = ev.t_ms
            who = f" · agent {ev.agent_id}" if ev.agent_id else ""
            self._print(self._c("head", f"━━ call {ev.call_id}{who} · {ev.lang or 'lang auto'} ━━"))
        elif isinstance(ev, Utterance) and ev.final:
            label = "AGENT   " if ev.speaker == "agent" else "CUSTOMER"
            self._print(f"[{self._clock(ev.call_id, ev.start_ms)}] {self._c(ev.speaker, label)}  {ev.text}")

    def output(self, out: Output) -> None:
        pad = " " * 10
        if isinstance(out, Prompt):
            sev = out.severity
            flag = " → supervisor" if out.supervisor else ""
            self._print(f"{pad}{self._c(sev, f'{_MARK[sev]} {sev.upper():6}')} {out.rule}{flag}")
            self._print(f"{pad}   say: {out.say}")
            self._print(f"{pad}   {self._c('dim', 'why: ' + out.why)}")
        elif isinstance(out, Resolved):
            self._print(f"{pad}{self._c('ok', '✓ done  ')} {out.rule}")
        elif isinstance(out, Expired):
            self._print(f"{pad}{self._c('dim', f'· {out.reason:8} {out.rule}')}")
        elif isinstance(out, Classification):
            scores = ", ".join(f"{t} {s:.2f}" for t, s in list(out.types.items())[:3])
            cues = "; ".join(snippet(e.text, 50) for e in out.evidence[-2:])
            top = out.top or "none"
            self._print(f"{pad}{self._c('head', '◆ customer type: ' + top)}  ({scores})")
            if cues:
                self._print(f"{pad}   {self._c('dim', 'because: ' + cues)}")
        elif isinstance(out, Summary):
            self._summary(out)
        elif isinstance(out, EngineFault):
            self._print(f"{pad}{self._c('bad', f'engine fault in {out.rule}: {out.error}')}")
        elif isinstance(out, CallWarning):
            self._print(f"{pad}{self._c('warn', f'warning: {out.message}')}")
        elif isinstance(out, Transferred):
            self._print(f"{pad}{self._c('head', f'⇄ transferred to agent {out.agent_id}')}")

    def _summary(self, s: Summary) -> None:
        total = sum(s.prompts.values())
        done = sum(s.resolved.values())
        self._print(self._c("head", f"── summary {s.call_id}: {s.utterances} utterances, top type "
                                    f"{s.top or 'none'}, {total} prompt(s), {done} done by the agent"))
        for rule, n in s.prompts.items():
            self._print(f"   {rule:28} {n} raised, {s.resolved.get(rule, 0)} done")
        marks = []
        for item, value in s.checklist.items():
            mark = "n/a" if value is None else ("yes" if value else "no")
            style = "dim" if value is None else ("ok" if value else "bad")
            marks.append(f"{item}: {self._c(style, mark)}")
        if marks:
            self._print("   checklist: " + " · ".join(marks))
