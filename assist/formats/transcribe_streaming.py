"""Amazon Transcribe streaming result events, recorded one per line (JSON Lines) or as a JSON array:
``{"Transcript": {"Results": [...]}}``, or wrapped as ``{"TranscriptEvent": {...}}`` the way the
SDKs' event stream names it.

Each Result has ``ResultId``, ``StartTime``/``EndTime`` (seconds), ``IsPartial``, ``ChannelId`` (with
channel identification) and ``Alternatives[0].Transcript`` / ``Items[]`` (``Speaker`` with speaker
partitioning). Partial results become utterances with ``final: false`` and the ResultId as
``utterance_id``, so the final result replaces them; which channel or speaker is the agent comes from
``--agent-channel`` / ``--agent-speaker``. Results are kept in file order (the order they arrived).

Field names follow:
  https://docs.aws.amazon.com/transcribe/latest/APIReference/API_streaming_TranscriptEvent.html
  https://docs.aws.amazon.com/transcribe/latest/APIReference/API_streaming_Result.html
  https://docs.aws.amazon.com/transcribe/latest/APIReference/API_streaming_Item.html
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from assist.errors import FormatError
from assist.formats import Format, Item, ReadOptions
from assist.formats._stt import Kind, Turn, TurnStream, first_record, join, label, ms, read_stream, require

_SHAPE = re.compile(r'^\{\s*"(?:TranscriptEvent"\s*:\s*\{\s*")?Transcript"\s*:\s*\{\s*"Results"\s*:')


def _event(obj: Any) -> Any:
    return obj["TranscriptEvent"] if isinstance(obj, dict) and "TranscriptEvent" in obj else obj


def _sniff(head: str) -> bool:
    text, obj = first_record(head)
    if obj is None:
        return bool(_SHAPE.match(text))
    ev = _event(obj)
    return isinstance(ev, dict) and isinstance(ev.get("Transcript"), dict) and "Results" in ev["Transcript"]


def _speaker_runs(items: list[Any], where: str) -> list[tuple[str | None, list[str], int | None, int | None]]:
    """Consecutive items by one Speaker: (speaker, words, start_ms, end_ms)."""
    runs: list[tuple[str | None, list[str], int | None, int | None]] = []
    for j, it in enumerate(items):
        iw = f"{where}.Items[{j}]"
        content = require(it, "Content", iw, str, "the word as text")
        spk = label("speaker", it["Speaker"]) if it.get("Speaker") is not None else None
        start = ms(it["StartTime"], iw, "StartTime") if "StartTime" in it else None
        end = ms(it["EndTime"], iw, "EndTime") if "EndTime" in it else None
        if str(it.get("Type", "")).lower() == "punctuation" and runs:
            runs[-1][1].append(content)
            continue
        if not runs or (spk is not None and spk != runs[-1][0]):
            runs.append((spk, [content], start, end))
        else:
            s, words, s0, _ = runs[-1]
            runs[-1] = (s or spk, [*words, content], s0 if s0 is not None else start, end)
    return runs


def _result_turns(result: Any, where: str) -> tuple[Kind | None, list[Turn]]:
    rid = require(result, "ResultId", where, str, "the result's id")
    start = ms(require(result, "StartTime", where, (int, float), "seconds"), where, "StartTime")
    end = ms(require(result, "EndTime", where, (int, float), "seconds"), where, "EndTime")
    final = not require(result, "IsPartial", where, bool, "true or false")
    alts = require(result, "Alternatives", where, list, "a list of alternatives with Transcript")
    if not alts:
        return None, []
    alt = alts[0]
    text = require(alt, "Transcript", f"{where}.Alternatives[0]", str, "the transcript text")
    if result.get("ChannelId") is not None:
        return "channel", [Turn(where, label("channel", result["ChannelId"]), text, start, end, final, rid)]
    runs = _speaker_runs(alt.get("Items") or [], f"{where}.Alternatives[0]")
    if len(runs) <= 1:
        spk = runs[0][0] if runs else None
        return ("speaker" if spk else None), [Turn(where, spk, text, start, end, final, rid)]
    turns = [Turn(where, spk, join(words), s if s is not None else start, e if e is not None else end, final,
                  rid if k == 0 else f"{rid}/{k}") for k, (spk, words, s, e) in enumerate(runs)]
    return "speaker", turns


def _unlabelled(where: str) -> FormatError:
    return FormatError("expected a ChannelId (channel identification) or Items[].Speaker (speaker "
                       "partitioning) to tell the parties apart, got neither", field="ChannelId",
                       expected="a ChannelId or Items[].Speaker", got="neither", where=where)


class _Labels:
    """Partial results often come before Transcribe knows the speaker: they take it from a later result
    with the same ResultId (held until then), or at the end from the turn before them."""

    def __init__(self) -> None:
        self.by_uid: dict[str | None, str] = {}
        self.last: str | None = None
        self.held: dict[str | None, list[tuple[Turn, str | None]]] = {}

    def fill(self, turns: list[Turn]) -> list[Turn]:
        out: list[Turn] = []
        for t in turns:
            if t.label is None:
                t.label = self.by_uid.get(t.uid)
                if t.label is None:
                    self.held.setdefault(t.uid, []).append((t, self.last))
                    continue
            else:
                self.by_uid.setdefault(t.uid, t.label)
                for h, _ in self.held.pop(t.uid, []):
                    h.label = t.label
                    out.append(h)
            self.last = t.label
            out.append(t)
        return out

    def rest(self) -> list[Turn]:
        out = [t for ts in self.held.values() for t, _ in ts]
        for ts in self.held.values():
            for t, before in ts:
                t.label = before
        self.held.clear()
        return out


class Reader:
    """Transcribe streaming TranscriptEvents one at a time; a StreamReader."""

    def __init__(self, opts: ReadOptions, source: str, live: bool):
        self.source = source
        self.live = live
        self.kinds: set[Kind] = set()
        self.labels = _Labels()
        self.seen_results = False
        self.out = TurnStream(opts, source, hold=not live, unlabelled=_unlabelled)

    @property
    def holding(self) -> bool:
        return bool(self.labels.held)

    def push(self, message: Any, where: str) -> list[Item]:
        turns: list[Turn] = []
        problems: list[Item] = []
        try:
            ev = _event(message)
            transcript = require(ev, "Transcript", where, dict, "a Transcript object with Results")
            results = require(transcript, "Results", where, list, "a list of results")
            for k, result in enumerate(results):
                result_kind, found = _result_turns(result, f"{where}:Results[{k}]")
                if result_kind is not None:
                    if self.live and self.kinds and result_kind not in self.kinds:
                        raise FormatError("expected either ChannelId or Items[].Speaker throughout, "
                                          "got both", field="ChannelId", expected="the same labelling throughout",
                                          got="both", where=where)
                    self.kinds.add(result_kind)
                if isinstance(result, dict) and isinstance(result.get("LanguageCode"), str):
                    self.out.lang = self.out.lang or result["LanguageCode"]
                turns.extend(found)
                self.seen_results = True
        except FormatError as exc:
            problems.append(Item.failed(where, exc))
        return problems + self.out.add(self.labels.fill(turns))

    def close(self, where: str) -> list[Item]:
        if len(self.kinds) > 1:
            raise FormatError("expected either ChannelId or Items[].Speaker throughout, got both", where=self.source)
        if not self.seen_results and not self.live:
            raise FormatError("expected TranscriptEvent records with results, got none", where=self.source)
        out = self.out.add(self.labels.rest())
        kind: Kind = next(iter(self.kinds)) if self.kinds else "channel"
        return out + self.out.finish(where, kind)


def read(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    return read_stream(Reader(opts, source, live=False), content, source)


FORMAT = Format("transcribe-streaming",
                "Amazon Transcribe streaming TranscriptEvent records (JSON Lines or a JSON array)", _sniff, read,
                Reader)
