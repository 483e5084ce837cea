"""Replay recorded transcripts through the engine: deterministic, event time only.

``replay(paths, rules)`` yields a ``Step`` per event (the event and what it caused) and a
``Problem`` per bad line; the CLI renders them as a timeline or as JSON Lines.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist.core.compiled import CompiledRules
from assist.core.engine import Engine
from assist.core.events import AnyEvent, CallEnd, event_time, parse_event
from assist.core.outputs import Output
from assist.errors import AssistError, CapacityError, EventError
from assist.formats import ReadOptions, read_file


@dataclass(frozen=True, slots=True)
class Step:
    where: str
    event: AnyEvent
    outputs: list[Output]


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    message: str


def transcript_files(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, and the files directly inside directories named, sorted for a stable order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                              and f.suffix in {".jsonl", ".txt", ".json", ".vtt", ".srt", ".ndjson"}))
        else:
            out.append(p)
    return out


def replay(paths: Sequence[str | Path], rules: CompiledRules, *, fmt: str | None = None,
           lang: str | None = None, engine: Engine | None = None, agent_channel: str | None = None,
           agent_speaker: str | None = None) -> Iterator[Step | Problem]:
    """Run every file through one engine; calls still open at the end get closed with a summary.

    `agent_channel` / `agent_speaker` say which party is the agent in formats that do not (ch_0, spk_1).
    """
    eng = engine or Engine(rules, lang=lang)
    for path in transcript_files(paths):
        opts = ReadOptions(call_id=path.stem, lang=lang, agent_channel=agent_channel, agent_speaker=agent_speaker)
        try:
            items = read_file(path, fmt, opts)
            last_t: dict[str, int] = {}
            for item in items:
                if item.problem is not None or item.event is None:
                    yield Problem(item.where, item.problem or "empty item")
                    continue
                yield from _feed(eng, item.where, item.event, last_t)
        except AssistError as exc:
            yield Problem(str(path), str(exc))
        for call_id in list(eng.open_calls):
            t = last_t.get(call_id, 0)
            yield Problem(f"{path}", f"call '{call_id}' had no call.end; closed at the end of the file")
            yield Step(str(path), CallEnd(type="call.end", call_id=call_id, t_ms=t), eng.end_call(call_id, t))


def _feed(eng: Engine, where: str, raw: dict[str, Any], last_t: dict[str, int]) -> Iterator[Step | Problem]:
    try:
        event = parse_event(raw, where)
        outputs = eng.feed(event)
    except EventError as exc:
        yield Problem(where, str(exc) if str(exc).startswith(where) else f"{where}: {exc}")
        return
    except CapacityError as exc:
        yield Problem(where, f"{where}: {exc}")
        return
    last_t[event.call_id] = max(last_t.get(event.call_id, 0), event_time(event))
    yield Step(where, event, outputs)
