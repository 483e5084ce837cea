"""Amazon Transcribe batch output: one JSON document with ``results.items`` (words and punctuation).

Which party said each word comes from ``speaker_label`` (speaker partitioning, ``spk_0``…) or
``channel_label`` (channel identification, ``ch_0``…) on the item, or, in older output, from
``results.speaker_labels.segments[].items`` (matched by start time) or
``results.channel_labels.channels[].items``. Consecutive words of one party make a turn; which party
is the agent comes from ``--agent-speaker`` / ``--agent-channel``.

Field names follow:
  https://docs.aws.amazon.com/transcribe/latest/dg/diarization-output-batch.html
  https://docs.aws.amazon.com/transcribe/latest/dg/channel-id-output-batch.html
  https://docs.aws.amazon.com/transcribe/latest/dg/how-input.html (output: start_time/end_time as strings)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from assist.core.events import describe
from assist.errors import FormatError
from assist.formats import Format, Item, ReadOptions
from assist.formats._stt import Kind, Turn, events, join, label, load_json, ms, require, roles

_RESULTS = re.compile(r'"results"\s*:\s*\{')
_KEYS = re.compile(r'"(?:transcripts|speaker_labels|channel_labels)"\s*:')
_JOB = re.compile(r'"jobName"\s*:\s*"[^"]*"\s*,\s*"accountId"\s*:')


@dataclass(slots=True)
class _Word:
    where: str
    party: str | None
    text: str
    start_ms: int | None
    end_ms: int | None
    confidence: float | None


def _sniff(head: str) -> bool:
    return head.lstrip().startswith("{") and (
        bool(_JOB.search(head)) or (bool(_RESULTS.search(head)) and bool(_KEYS.search(head))))


def _word(item: Any, where: str, party: str | None) -> _Word:
    kind = require(item, "type", where, str, "'pronunciation' or 'punctuation'")
    alts = require(item, "alternatives", where, list, "a list of alternatives with 'content'")
    if not alts:
        raise FormatError("field 'alternatives': expected at least one alternative, got []", where=where)
    content = require(alts[0], "content", f"{where}.alternatives[0]", str, "the word as text")
    conf = alts[0].get("confidence")
    try:
        confidence = float(conf) if conf is not None else None
    except (TypeError, ValueError):
        confidence = None
    if kind == "punctuation":
        return _Word(where, party, content, None, None, confidence)
    if kind != "pronunciation":
        raise FormatError(f"field 'type': expected 'pronunciation' or 'punctuation', got {describe(kind)}", where=where)
    start = ms(require(item, "start_time", where, (str, int, float), "seconds"), where, "start_time")
    end = ms(require(item, "end_time", where, (str, int, float), "seconds"), where, "end_time")
    return _Word(where, party, content, start, end, confidence)


def _party(item: dict[str, Any], by_start: dict[str, str]) -> tuple[Kind, str] | None:
    if "speaker_label" in item:
        return "speaker", label("speaker", item["speaker_label"])
    if "channel_label" in item:
        return "channel", label("channel", item["channel_label"])
    start = item.get("start_time")
    return ("speaker", by_start[str(start)]) if str(start) in by_start else None


def _words(results: dict[str, Any], source: str) -> tuple[Kind | None, list[_Word]]:
    """Every word with its party, in time order; punctuation stays behind the word it follows."""
    channels = results.get("channel_labels", {}).get("channels") if isinstance(
        results.get("channel_labels"), dict) else None
    if isinstance(channels, list) and channels and all(
            isinstance(c, dict) and any("alternatives" in i for i in c.get("items", [])) for c in channels):
        return "channel", _channel_words(channels, source)
    by_start: dict[str, str] = {}
    segments = results.get("speaker_labels", {}).get("segments", []) if isinstance(
        results.get("speaker_labels"), dict) else []
    for seg in segments if isinstance(segments, list) else []:
        for it in seg.get("items", []) if isinstance(seg, dict) else []:
            if isinstance(it, dict) and "start_time" in it and "speaker_label" in it:
                by_start[str(it["start_time"])] = label("speaker", it["speaker_label"])
    items = require(results, "items", f"{source}:results", list, "a list of items (words and punctuation)")
    kind: Kind | None = None
    words: list[_Word] = []
    for i, item in enumerate(items):
        where = f"{source}:results.items[{i}]"
        if not isinstance(item, dict):
            raise FormatError(f"expected an item object, got {describe(item)}", where=where)
        party = _party(item, by_start)
        if party is not None:
            kind = party[0]
        words.append(_word(item, where, party[1] if party else None))
    return kind, words


def _channel_words(channels: list[dict[str, Any]], source: str) -> list[_Word]:
    runs: list[list[_Word]] = []
    for c, channel in enumerate(channels):
        party = label("channel", channel.get("channel_label", c))
        run: list[_Word] = []
        for i, item in enumerate(channel.get("items", [])):
            run.append(_word(item, f"{source}:results.channel_labels.channels[{c}].items[{i}]", party))
        runs.append(run)
    # punctuation has no time: sort each channel's words as units with the punctuation after them
    units: list[tuple[int, int, list[_Word]]] = []
    for c, run in enumerate(runs):
        for w in run:
            if w.start_ms is None and units and units[-1][1] == c:
                units[-1][2].append(w)
            else:
                units.append((w.start_ms or 0, c, [w]))
    units.sort(key=lambda u: (u[0], u[1]))
    return [w for _, _, ws in units for w in ws]


def _turns(words: list[_Word], source: str) -> list[Turn]:
    turns: list[Turn] = []
    parts: list[str] = []
    last_party: str | None = None
    for w in words:
        party = w.party if w.party is not None else (last_party if w.start_ms is None else None)
        if party is None:
            raise FormatError(f"expected a speaker_label or channel_label for the word "
                              f"{w.text!r}, got none (was the job run with speaker partitioning or "
                              "channel identification?)", where=w.where)
        if w.start_ms is None:  # punctuation: belongs to the turn it follows
            if turns:
                parts.append(w.text)
                turns[-1].text = join(parts)
            continue
        if not turns or party != last_party:
            parts = []
            turns.append(Turn(w.where, party, "", w.start_ms, w.end_ms or w.start_ms))
        parts.append(w.text)
        turns[-1].text = join(parts)
        turns[-1].end_ms = max(turns[-1].end_ms, w.end_ms or 0)
        last_party = party
    return turns


def read(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    doc = load_json(content, source, "an Amazon Transcribe output document")
    results = require(doc, "results", source, dict, "an object with transcripts and items")
    kind, words = _words(results, source)
    turns = _turns(words, source)
    if kind is None:
        raise FormatError("expected speaker labels (spk_0…) or channel labels (ch_0…) on the items, got neither "
                          "(run the job with ShowSpeakerLabels or ChannelIdentification)", where=source)
    speaker_of = roles((t.label for t in turns if t.label), kind, opts, source)
    lang = results.get("language_code") if isinstance(results.get("language_code"), str) else None
    yield from events(turns, speaker_of, opts, call_id=opts.call_id, where=f"{source}:1", lang=lang)


FORMAT = Format("transcribe", "Amazon Transcribe batch output JSON (results.items with speaker or channel labels)",
                _sniff, read)
