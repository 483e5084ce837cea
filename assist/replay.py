"""Replay recorded transcripts through the engine: deterministic, event time only.

``replay(paths, rules)`` yields a ``Step`` per event (the event and what it caused) and a
``Problem`` per bad line; the CLI renders them as a timeline or as JSON Lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist.core.compiled import CompiledRules
from assist.core.engine import Engine
from assist.core.events import AnyEvent, CallEnd, event_time, parse_event
from assist.core.outputs import Output
from assist.errors import AssistError, CapacityError, EventError, FormatError, Problem
from assist.formats import ReadOptions, read_file
from assist.progress import progress

__all__ = ["Problem", "Step", "replay", "transcript_files"]


@dataclass(frozen=True, slots=True)
class Step:
    where: str
    event: AnyEvent
    outputs: list[Output]


TRANSCRIPT_SUFFIXES = frozenset({".jsonl", ".txt", ".json", ".vtt", ".srt", ".ndjson"})


def transcript_files(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, and the transcript files anywhere under directories named (hidden ones skipped), each
    directory's sorted for a stable order. Raise FormatError for a path that does not exist or a directory
    with no transcript in it: an empty input is a mistake, not a report of 0 calls."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in TRANSCRIPT_SUFFIXES and f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                raise FormatError(f"expected transcript files ({', '.join(sorted(TRANSCRIPT_SUFFIXES))}) "
                                  "in this directory or below it, found none", where=str(p))
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise FormatError("no such file or directory", where=str(p))
    return out


def replay(paths: Sequence[str | Path], rules: CompiledRules, *, fmt: str | None = None,
           lang: str | None = None, engine: Engine | None = None, agent_channel: str | None = None,
           agent_speaker: str | None = None, show_progress: bool = False) -> Iterator[Step | Problem]:
    """Run every file through one engine; calls still open at the end get closed with a summary.

    `agent_channel` / `agent_speaker` say which party is the agent in formats that do not (ch_0, spk_1).
    `show_progress`: a bar of files done on stderr when it is a terminal and there is more than one file.
    Raise FormatError before the first event if a path is missing or a directory holds no transcript.
    """
    eng = engine or Engine(rules, lang=lang)
    found = transcript_files(paths)
    files: Iterable[Path] = progress(found, desc="calls", unit="file") if show_progress and len(found) > 1 else found
    for path in files:
        opts = ReadOptions(call_id=path.stem, lang=lang, agent_channel=agent_channel, agent_speaker=agent_speaker)
        try:
            items = read_file(path, fmt, opts)
            last_t: dict[str, int] = {}
            for item in items:
                if item.problem is not None or item.event is None:
                    yield Problem(item.where, item.problem or "empty item", item.field, item.expected, item.got)
                    continue
                yield from _feed(eng, item.where, item.event, last_t)
        except AssistError as exc:
            yield Problem.of(exc, str(path))
        for call_id in list(eng.open_calls):
            t = last_t.get(call_id, 0)
            yield Problem(str(path), f"call '{call_id}' had no call.end; closed at the end of the file")
            yield Step(str(path), CallEnd(type="call.end", call_id=call_id, t_ms=t), eng.end_call(call_id, t))


def _feed(eng: Engine, where: str, raw: dict[str, Any], last_t: dict[str, int]) -> Iterator[Step | Problem]:
    try:
        event = parse_event(raw, where)
        outputs = eng.feed(event)
    except (EventError, CapacityError) as exc:
        yield Problem.of(exc, where)
        return
    last_t[event.call_id] = max(last_t.get(event.call_id, 0), event_time(event))
    yield Step(where, event, outputs)
