"""What the speech-to-text and contact-centre formats share: seconds to milliseconds, JSON records
with file:line, which channel or speaker is the agent, and turning turns into native events.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from assist.core.events import describe, json_problem
from assist.core.normalize import has_cjk
from assist.errors import FormatError
from assist.formats import Item, ReadOptions

Kind = Literal["channel", "speaker"]
_PREFIX: dict[Kind, str] = {"channel": "ch_", "speaker": "spk_"}
_OPTION: dict[Kind, str] = {"channel": "--agent-channel", "speaker": "--agent-speaker"}
_NUMBERED = re.compile(r"(?:ch|channel|spk|speaker)?[_\- ]?(\d+)", re.IGNORECASE)


@dataclass(slots=True)
class Turn:
    """One stretch of speech by one party, as the file labels it (``ch_0``, ``spk_1``, ``AGENT``…)."""

    where: str
    label: str | None
    text: str
    start_ms: int
    end_ms: int
    final: bool = True
    uid: str | None = None
    confidence: float | None = None


def ms(value: Any, where: str, field: str) -> int:
    """Seconds (a number, or a numeric string as Transcribe batch writes them) to whole milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FormatError(f"{where}: field '{field}': expected seconds as a number, got {describe(value)}")
    try:
        seconds = float(value)
    except ValueError:
        raise FormatError(f"{where}: field '{field}': expected seconds as a number, "
                          f"got {describe(value)}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise FormatError(f"{where}: field '{field}': expected seconds >= 0, got {describe(value)}")
    return round(seconds * 1000)


def millis(value: Any, where: str, field: str) -> int:
    """A whole number of milliseconds, as Call Analytics writes BeginOffsetMillis."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise FormatError(f"{where}: field '{field}': expected milliseconds >= 0, got {describe(value)}")
    return round(value)


def field(obj: Any, name: str, where: str, kind: type | tuple[type, ...], expected: str) -> Any:
    """obj[name], checked to be of `kind`; FormatError naming the field, what was expected and what came."""
    if not isinstance(obj, dict):
        raise FormatError(f"{where}: expected a JSON object with '{name}', got {describe(obj)}")
    if name not in obj:
        raise FormatError(f"{where}: field '{name}': expected {expected}, got nothing (field missing)")
    value = obj[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise FormatError(f"{where}: field '{name}': expected {expected}, got {describe(value)}")
    return value


def load_json(content: str, source: str, expected: str) -> Any:
    """The whole file as one JSON document."""
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as exc:  # not only JSONDecodeError: huge ints, deep nesting
        at = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
        raise FormatError(f"{source}:{at}: expected {expected}, got {json_problem(exc)}") from None


def first_record(head: str) -> tuple[str, Any]:
    """The first JSON Lines record (or JSON array element) as text and, when it fits in `head`, decoded."""
    text = head.lstrip()
    if text.startswith("["):
        text = text[1:].lstrip()
        try:
            obj, _ = json.JSONDecoder().raw_decode(text)
        except (ValueError, RecursionError):
            return text, None
        return text, obj
    line = text.split("\n", 1)[0].strip()
    try:
        return line, json.loads(line)
    except (ValueError, RecursionError):
        return line, None


def records(content: str, source: str) -> Iterator[tuple[str, Any, str | None]]:
    """(where, record, problem) for each line of a JSON Lines file, or each element of a JSON array."""
    if content.lstrip().startswith("["):
        try:
            array = json.loads(content)
        except (ValueError, RecursionError) as exc:
            at = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
            yield f"{source}:{at}", None, f"expected a JSON array of events, got {json_problem(exc)}"
            return
        if not isinstance(array, list):
            yield f"{source}:1", None, f"expected a JSON array of events, got {describe(array)}"
            return
        for i, obj in enumerate(array):
            yield f"{source}:[{i}]", obj, None
        return
    for n, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield f"{source}:{n}", None, f"expected a JSON object, got {json_problem(exc)}"
            continue
        yield f"{source}:{n}", obj, None


def label(kind: Kind, value: Any) -> str:
    """The file's channel or speaker id in one spelling: 0, '0', 'ch_0' → 'ch_0'; names stay names."""
    text = str(value).strip()
    m = _NUMBERED.fullmatch(text)
    return f"{_PREFIX[kind]}{int(m.group(1))}" if m else text


def roles(labels: Iterable[str], kind: Kind, opts: ReadOptions, source: str,
          known: dict[str, str] | None = None) -> dict[str, str]:
    """Map each label to 'agent' or 'customer'.

    Where the file itself names the agent (`known`, such as a caption voice 'Agent') that wins and other
    labels are the customer; otherwise the option (--agent-channel / --agent-speaker) decides; otherwise
    a FormatError says which option to pass and what was found.
    """
    found = sorted(set(labels), key=_natural)
    listed = ", ".join(found) or "none"
    known = known or {}
    if "agent" in {known.get(x) for x in found}:
        return {x: known.get(x, "customer") for x in found}
    wanted = opts.agent_channel if kind == "channel" else opts.agent_speaker
    if wanted is not None:
        agent = label(kind, wanted)
        if agent not in found:
            raise FormatError(f"{source}: {_OPTION[kind]} {wanted}: expected one of the {kind}s in the file "
                              f"({listed})")
        return {x: "agent" if x == agent else "customer" for x in found}
    other: Kind = "speaker" if kind == "channel" else "channel"
    hint = (f"; {_OPTION[other]} does not apply, this file labels {kind}s"
            if (opts.agent_speaker if kind == "channel" else opts.agent_channel) else "")
    example = found[0] if found else f"{_PREFIX[kind]}0"
    raise FormatError(f"{source}: cannot tell which {kind} is the agent: expected {_OPTION[kind]} "
                      f"(e.g. {_OPTION[kind]} {example}), found {kind}s {listed}{hint}")


def _natural(x: str) -> tuple[str, int]:
    m = re.search(r"(\d+)$", x)
    return (x[: m.start()], int(m.group(1))) if m else (x, -1)


def join(words: Iterable[str]) -> str:
    """Words into text: a space between words, none before punctuation or between Han characters."""
    out = ""
    for w in words:
        w = w.strip()
        if not w:
            continue
        if out and not (w[0] in ",.?!;:%)…、，。？！；：" or (has_cjk(out[-1]) and has_cjk(w[0]))):
            out += " "
        out += w
    return out


def events(turns: Iterable[Turn], speaker_of: dict[str, str], opts: ReadOptions, *, call_id: str,
           where: str, lang: str | None = None, agent_id: str | None = None) -> Iterator[Item]:
    """call.start, one utterance per turn with text, call.end at the last end time."""
    start: dict[str, Any] = {"type": "call.start", "call_id": call_id, "t_ms": 0}
    if opts.lang or lang:
        start["lang"] = opts.lang or lang
    if opts.agent_id or agent_id:
        start["agent_id"] = opts.agent_id or agent_id
    yield Item(where, event=start)
    end = 0
    last_where = where
    for t in turns:
        if not t.text.strip() or t.label is None:
            continue
        ev: dict[str, Any] = {"type": "utterance", "call_id": call_id, "speaker": speaker_of[t.label],
                              "text": t.text.strip(), "start_ms": t.start_ms,
                              "end_ms": max(t.end_ms, t.start_ms), "final": t.final}
        if t.uid is not None:
            ev["utterance_id"] = t.uid
        if t.confidence is not None and 0.0 <= t.confidence <= 1.0:
            ev["confidence"] = round(t.confidence, 4)
        end = max(end, ev["end_ms"])
        last_where = t.where
        yield Item(t.where, event=ev)
    yield Item(last_where, event={"type": "call.end", "call_id": call_id, "t_ms": end})
