"""What the speech-to-text and contact-centre formats share: seconds to milliseconds, JSON records
with file:line, which channel or speaker is the agent, and turning turns into native events.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from assist.core.events import describe, json_problem
from assist.core.normalize import has_cjk
from assist.errors import FormatError
from assist.formats import Item, ReadOptions, StreamReader

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
        raise FormatError(f"field '{field}': expected seconds as a number, got {describe(value)}",
                          field=field, expected="seconds as a number", got=describe(value), where=where)
    try:
        seconds = float(value)
    except ValueError:
        raise FormatError(f"field '{field}': expected seconds as a number, "
                          f"got {describe(value)}", field=field, expected="seconds as a number",
                          got=describe(value), where=where) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise FormatError(f"field '{field}': expected seconds >= 0, got {describe(value)}",
                          field=field, expected="seconds >= 0", got=describe(value), where=where)
    return round(seconds * 1000)


def millis(value: Any, where: str, field: str) -> int:
    """A whole number of milliseconds, as Call Analytics writes BeginOffsetMillis."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise FormatError(f"field '{field}': expected milliseconds >= 0, got {describe(value)}",
                          field=field, expected="milliseconds >= 0", got=describe(value), where=where)
    return round(value)


def require(obj: Any, name: str, where: str, kind: type | tuple[type, ...], expected: str) -> Any:
    """obj[name], checked to be of `kind`; FormatError naming the field, what was expected and what came."""
    if not isinstance(obj, dict):
        raise FormatError(f"expected a JSON object with '{name}', got {describe(obj)}",
                          field="", expected=f"a JSON object with '{name}'", got=describe(obj), where=where)
    if name not in obj:
        raise FormatError(f"field '{name}': expected {expected}, got nothing (field missing)",
                          field=name, expected=expected, got="nothing (field missing)", where=where)
    value = obj[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise FormatError(f"field '{name}': expected {expected}, got {describe(value)}",
                          field=name, expected=expected, got=describe(value), where=where)
    return value


def load_json(content: str, source: str, expected: str) -> Any:
    """The whole file as one JSON document."""
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as exc:  # not only JSONDecodeError: huge ints, deep nesting
        at = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
        raise FormatError(f"expected {expected}, got {json_problem(exc)}", where=f"{source}:{at}") from None


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
            raise FormatError(f"{_OPTION[kind]} {wanted}: expected one of the {kind}s in the file "
                              f"({listed})", where=source)
        return {x: "agent" if x == agent else "customer" for x in found}
    other: Kind = "speaker" if kind == "channel" else "channel"
    hint = (f"; {_OPTION[other]} does not apply, this file labels {kind}s"
            if (opts.agent_speaker if kind == "channel" else opts.agent_channel) else "")
    example = found[0] if found else f"{_PREFIX[kind]}0"
    raise FormatError(f"cannot tell which {kind} is the agent: expected {_OPTION[kind]} "
                      f"(e.g. {_OPTION[kind]} {example}), found {kind}s {listed}{hint}", where=source)


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


def call_start(opts: ReadOptions, call_id: str, lang: str | None = None,
               agent_id: str | None = None) -> dict[str, Any]:
    start: dict[str, Any] = {"type": "call.start", "call_id": call_id, "t_ms": 0}
    if opts.lang or lang:
        start["lang"] = opts.lang or lang
    if opts.agent_id or agent_id:
        start["agent_id"] = opts.agent_id or agent_id
    return start


def utterance(t: Turn, speaker: str, call_id: str) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": "utterance", "call_id": call_id, "speaker": speaker,
                          "text": t.text.strip(), "start_ms": t.start_ms,
                          "end_ms": max(t.end_ms, t.start_ms), "final": t.final}
    if t.uid is not None:
        ev["utterance_id"] = t.uid
    if t.confidence is not None and 0.0 <= t.confidence <= 1.0:
        ev["confidence"] = round(t.confidence, 4)
    return ev


def events(turns: Iterable[Turn], speaker_of: dict[str, str], opts: ReadOptions, *, call_id: str,
           where: str, lang: str | None = None, agent_id: str | None = None) -> Iterator[Item]:
    """call.start, one utterance per turn with text, call.end at the last end time."""
    yield Item(where, event=call_start(opts, call_id, lang, agent_id))
    end = 0
    last_where = where
    for t in turns:
        if not t.text.strip() or t.label is None:
            continue
        ev = utterance(t, speaker_of[t.label], call_id)
        end = max(end, ev["end_ms"])
        last_where = t.where
        yield Item(t.where, event=ev)
    yield Item(last_where, event={"type": "call.end", "call_id": call_id, "t_ms": end})


def read_stream(reader: StreamReader, content: str, source: str) -> Iterator[Item]:
    """A file read with a stream reader: each record pushed in order, then the end of the stream."""
    for where, obj, problem in records(content, source):
        if problem is not None:
            yield Item(where, problem=problem)
            continue
        yield from reader.push(obj, where)
    yield from reader.close(f"{source}:1")


class TurnStream:
    """One call's turns as they come out of a vendor reader, to native events.

    Over a file (`hold=True`) every turn is held to the end, so that without --agent-channel /
    --agent-speaker the error lists every channel or speaker found before any event goes out. Live
    (`hold=False`) the connection's options say who the agent is and each turn goes out at once:
    call.start before the first, an utterance per turn with text, call.end at the last end time on close.
    """

    def __init__(self, opts: ReadOptions, source: str, *, hold: bool,
                 unlabelled: Callable[[str], FormatError]):
        self.opts = opts
        self.source = source
        self.hold = hold
        self.unlabelled = unlabelled  # the error for speech no channel or speaker tells apart
        self.held: list[Turn] = []
        self.lang: str | None = None  # from the stream itself (Transcribe's LanguageCode), if the option is unset
        self.started = False
        self.end_ms = 0
        agents = {label("channel", opts.agent_channel) if opts.agent_channel is not None else "",
                  label("speaker", opts.agent_speaker) if opts.agent_speaker is not None else ""}
        self.agents = agents - {""}

    def add(self, turns: Iterable[Turn]) -> list[Item]:
        if self.hold:
            self.held.extend(turns)
            return []
        out: list[Item] = []
        for t in turns:
            if not t.text.strip():
                continue
            try:
                speaker = self._speaker(t)
            except FormatError as exc:
                out.append(Item.failed(t.where, exc))
                continue
            if not self.started:
                self.started = True
                out.append(Item(t.where, event=call_start(self.opts, self.opts.call_id, self.lang)))
            ev = utterance(t, speaker, self.opts.call_id)
            self.end_ms = max(self.end_ms, ev["end_ms"])
            out.append(Item(t.where, event=ev))
        return out

    def _speaker(self, t: Turn) -> str:
        if t.label is None:
            raise self.unlabelled(t.where)
        if t.label in self.agents:
            return "agent"
        kind: Kind = "speaker" if t.label.startswith(_PREFIX["speaker"]) else "channel"
        if not any(a.startswith(_PREFIX[kind]) for a in self.agents):
            param = f"agent_{kind}"
            raise FormatError(f"this stream labels {kind}s ({t.label}): expected the {param} "
                              f"parameter, got {', '.join(sorted(self.agents)) or 'none'}",
                              field=param, expected=f"the agent's {kind} (this stream labels {kind}s)",
                              got=", ".join(sorted(self.agents)) or "nothing", where=t.where)
        return "customer"

    def finish(self, where: str, kind: Kind) -> list[Item]:
        """The end of the stream: held turns (over a file) or the call.end of a live call."""
        if not self.hold:
            if not self.started:
                return []
            return [Item(where, event={"type": "call.end", "call_id": self.opts.call_id, "t_ms": self.end_ms})]
        unlabelled = next((t for t in self.held if t.label is None and t.text.strip()), None)
        if unlabelled is not None:
            raise self.unlabelled(unlabelled.where)
        speaker_of = roles((t.label for t in self.held if t.label and t.text.strip()), kind, self.opts,
                           self.source)
        return list(events(self.held, speaker_of, self.opts, call_id=self.opts.call_id, where=where,
                           lang=self.lang))
