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

from assist.core.events import describe
from assist.errors import FormatError
from assist.formats import Format, Item, ReadOptions
from assist.formats._stt import Kind, Turn, events, field, first_record, join, label, ms, records, roles

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
        content = field(it, "Content", iw, str, "the word as text")
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
    rid = field(result, "ResultId", where, str, "the result's id")
    start = ms(field(result, "StartTime", where, (int, float), "seconds"), where, "StartTime")
    end = ms(field(result, "EndTime", where, (int, float), "seconds"), where, "EndTime")
    final = not field(result, "IsPartial", where, bool, "true or false")
    alts = field(result, "Alternatives", where, list, "a list of alternatives with Transcript")
    if not alts:
        return None, []
    alt = alts[0]
    text = field(alt, "Transcript", f"{where}.Alternatives[0]", str, "the transcript text")
    if result.get("ChannelId") is not None:
        return "channel", [Turn(where, label("channel", result["ChannelId"]), text, start, end, final, rid)]
    runs = _speaker_runs(alt.get("Items") or [], f"{where}.Alternatives[0]")
    if len(runs) <= 1:
        spk = runs[0][0] if runs else None
        return ("speaker" if spk else None), [Turn(where, spk, text, start, end, final, rid)]
    turns = [Turn(where, spk, join(words), s if s is not None else start, e if e is not None else end, final,
                  rid if k == 0 else f"{rid}/{k}") for k, (spk, words, s, e) in enumerate(runs)]
    return "speaker", turns


def _fill_labels(turns: list[Turn], source: str) -> None:
    """Partial results often come before Transcribe knows the speaker: take it from the same result."""
    by_uid = {t.uid: t.label for t in turns if t.label is not None}
    last: str | None = None
    for t in turns:
        if t.label is None:
            t.label = by_uid.get(t.uid) or last
        last = t.label or last
    missing = next((t for t in turns if t.label is None and t.text.strip()), None)
    if missing is not None:
        raise FormatError(f"{missing.where}: expected a ChannelId (channel identification) or Items[].Speaker "
                          "(speaker partitioning) to tell the parties apart, got neither")


def read(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    turns: list[Turn] = []
    kinds: set[Kind] = set()
    lang: str | None = None
    for where, obj, problem in records(content, source):
        if problem is not None:
            yield Item(where, problem=f"{where}: {problem}")
            continue
        try:
            ev = _event(obj)
            transcript = field(ev, "Transcript", where, dict, "a Transcript object with Results")
            results = field(transcript, "Results", where, list, "a list of results")
            for k, result in enumerate(results):
                result_kind, found = _result_turns(result, f"{where}:Results[{k}]")
                if result_kind is not None:
                    kinds.add(result_kind)
                if isinstance(result, dict) and isinstance(result.get("LanguageCode"), str):
                    lang = lang or result["LanguageCode"]
                turns.extend(found)
        except FormatError as exc:
            yield Item(where, problem=str(exc))
    if len(kinds) > 1:
        raise FormatError(f"{source}: expected either ChannelId or Items[].Speaker throughout, got both")
    _fill_labels(turns, source)
    kind: Kind = kinds.pop() if kinds else "channel"
    if not turns:
        raise FormatError(f"{source}: expected TranscriptEvent records with results, got {describe(content[:40])}")
    speaker_of = roles((t.label for t in turns if t.label and t.text.strip()), kind, opts, source)
    yield from events(turns, speaker_of, opts, call_id=opts.call_id, where=f"{source}:1", lang=lang)


FORMAT = Format("transcribe-streaming",
                "Amazon Transcribe streaming TranscriptEvent records (JSON Lines or a JSON array)", _sniff, read)
