"""Plain text transcripts: one turn a line, ``Agent: …`` / ``Customer: …``, the Chinese labels
people use (坐席/客服/客服人员/员工, 客户/顾客/用户/客人, in either script) or the Bulgarian ones
(Агент/Оператор/Служител/Консултант, Клиент), with optional
``[mm:ss]`` or ``[hh:mm:ss]`` timestamps. Lines without a label continue the previous turn.
Turns without timestamps get times estimated from their length.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from assist.core.normalize import detect_lang, estimate_ms
from assist.formats import Format, Item, ReadOptions

AGENT_LABELS = ("agent", "rep", "representative", "advisor", "坐席", "客服", "客服人员", "客服人員", "员工", "員工",
                "агент", "оператор", "операторка", "служител", "служителка", "консултант", "консултантка")
CUSTOMER_LABELS = ("customer", "caller", "client", "客户", "客戶", "顾客", "顧客", "用户", "用戶", "客人",
                   "клиент", "клиентка")
_SPEAKER = {label: "agent" for label in AGENT_LABELS} | {label: "customer" for label in CUSTOMER_LABELS}
_LABEL_RX = "|".join(sorted((re.escape(x) for x in _SPEAKER), key=len, reverse=True))
_LINE = re.compile(
    r"^\s*(?:[\[(](?P<ts>\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)[\])]\s*)?"
    rf"(?P<label>{_LABEL_RX})\s*(?:\d+\s*)?[:：]\s*(?P<text>.*)$",
    re.IGNORECASE,
)
GAP_MS = 400          # assumed pause between turns when the file has no times


@dataclass
class _Turn:
    where: str
    speaker: str
    text: str
    start_ms: int | None


def _speaker(label: str) -> str:
    """The speaker a matched label names; re.IGNORECASE also matches 'ſ' for 's' or 'K' for 'k'."""
    found = _SPEAKER.get(label.lower())
    if found is None:
        found = next(v for k, v in _SPEAKER.items() if re.fullmatch(re.escape(k), label, re.IGNORECASE))
    return found


def _ts_ms(ts: str) -> int:
    parts = [float(p) for p in ts.split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return round(seconds * 1000)


def _sniff(head: str) -> bool:
    lines = [ln for ln in head.splitlines() if ln.strip() and not ln.lstrip().startswith("#")][:5]
    return bool(lines) and _LINE.match(lines[0]) is not None


def _turns(content: str, source: str) -> Iterator[_Turn | Item]:
    current: _Turn | None = None
    for n, line in enumerate(content.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            if current is None:
                yield Item(f"{source}:{n}", problem="expected a turn starting with a speaker label such as "
                           f"'Agent:', '客户：' or 'Клиент:', got {line.strip()[:40]!r}")
            else:
                current.text = f"{current.text} {line.strip()}"
            continue
        if current is not None:
            yield current
        ts = m.group("ts")
        current = _Turn(f"{source}:{n}", _speaker(m.group("label")), m.group("text").strip(),
                        _ts_ms(ts) if ts else None)
    if current is not None:
        yield current


def read(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    turns: list[_Turn] = []
    for t in _turns(content, source):
        if isinstance(t, Item):
            yield t
        else:
            turns.append(t)
    lang = opts.lang or (detect_lang(" ".join(t.text for t in turns[:10])) if turns else "en")
    start_event = {"type": "call.start", "call_id": opts.call_id, "lang": lang, "t_ms": 0}
    if opts.agent_id:
        start_event["agent_id"] = opts.agent_id
    yield Item(f"{source}:1", event=start_event)
    clock = 0
    for i, turn in enumerate(turns):
        start = turn.start_ms if turn.start_ms is not None else clock + GAP_MS
        end = start + estimate_ms(turn.text)
        nxt = turns[i + 1].start_ms if i + 1 < len(turns) else None
        if nxt is not None and nxt > start:
            end = min(end, nxt)
        clock = max(clock, end)
        yield Item(turn.where, event={"type": "utterance", "call_id": opts.call_id, "speaker": turn.speaker,
                                      "text": turn.text, "start_ms": start, "end_ms": end, "final": True})
    yield Item(f"{source}:{max(1, content.count(chr(10)))}",
               event={"type": "call.end", "call_id": opts.call_id, "t_ms": clock})


FORMAT = Format("text", "plain text transcript (Agent:/Customer:, 坐席/客户 or Агент/Клиент labels)", _sniff, read)
