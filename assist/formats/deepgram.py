"""Deepgram streaming (live) responses, recorded one message per line (JSON Lines) or as a JSON array.

A ``"type": "Results"`` message carries ``channel.alternatives[0].transcript`` and ``words[]`` (with
``speaker`` when ``diarize=true``), ``start``/``duration`` (seconds), ``channel_index`` ``[channel,
channels]``, ``is_final`` and ``speech_final``. As Deepgram recommends, ``is_final`` pieces are joined
until ``speech_final`` (or an ``UtteranceEnd`` message) closes the utterance, which is emitted once as
final; interim results and unfinished pieces are emitted with ``final: false`` under the same
``utterance_id``. Which party is the agent comes from ``--agent-channel`` (multichannel) or
``--agent-speaker`` (diarize). ``Metadata`` and ``SpeechStarted`` messages are skipped.

Field names follow:
  https://developers.deepgram.com/reference/speech-to-text-api/listen-streaming
  https://developers.deepgram.com/docs/understand-endpointing-interim-results
  https://developers.deepgram.com/docs/utterance-end
  https://github.com/deepgram/deepgram-js-sdk/blob/main/src/lib/types/LiveTranscriptionEvent.ts
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from assist.errors import FormatError
from assist.formats import Format, Item, ReadOptions
from assist.formats._stt import (
    Kind,
    Turn,
    TurnStream,
    first_record,
    join,
    label,
    ms,
    read_stream,
    require,
)

MESSAGE_TYPES = ("Results", "Metadata", "SpeechStarted", "UtteranceEnd")
_TYPE = re.compile(r'^\{.*?"type"\s*:\s*"(?:Results|Metadata|SpeechStarted|UtteranceEnd)"')


@dataclass(slots=True)
class _Run:
    label: str | None
    text: str
    start_ms: int
    end_ms: int


@dataclass(slots=True)
class _Open:
    """An utterance being built from is_final pieces until speech_final closes it."""

    where: str
    label: str | None
    uid: str
    start_ms: int
    end_ms: int
    parts: list[str] = field(default_factory=list)

    def turn(self, final: bool, extra: str = "", where: str | None = None) -> Turn:
        text = join([*self.parts, extra]) if extra else join(self.parts)
        return Turn(where or self.where, self.label, text, self.start_ms, self.end_ms, final, self.uid)


def _sniff(head: str) -> bool:
    text, obj = first_record(head)
    if obj is None:
        return bool(_TYPE.match(text))
    return isinstance(obj, dict) and obj.get("type") in MESSAGE_TYPES


def _channel(msg: dict[str, Any], where: str) -> tuple[int, bool]:
    idx = msg.get("channel_index", [0, 1])
    if not (isinstance(idx, list) and idx and all(isinstance(x, int) for x in idx)):
        raise FormatError(f"field 'channel_index': expected [channel, channels], got {idx!r}", where=where)
    return idx[0], len(idx) > 1 and idx[1] > 1


def _runs(msg: dict[str, Any], where: str, channel: int, multichannel: bool) -> list[_Run]:
    """The message's speech as runs of one party: one per channel, or one per diarized speaker."""
    start = ms(require(msg, "start", where, (int, float), "seconds"), where, "start")
    end = start + ms(require(msg, "duration", where, (int, float), "seconds"), where, "duration")
    alts = require(require(msg, "channel", where, dict, "an object with alternatives"), "alternatives",
                 f"{where}.channel", list, "a list of alternatives")
    if not alts:
        return []
    text = require(alts[0], "transcript", f"{where}.channel.alternatives[0]", str, "the transcript text")
    words = alts[0].get("words") or []
    if multichannel or not any(isinstance(w, dict) and "speaker" in w for w in words):
        return [_Run(label("channel", channel) if multichannel else None, text, start, end)]
    runs: list[_Run] = []
    parts: list[list[str]] = []
    for j, w in enumerate(words):
        ww = f"{where}.channel.alternatives[0].words[{j}]"
        spk = label("speaker", require(w, "speaker", ww, int, "the speaker number"))
        token = w.get("punctuated_word") or require(w, "word", ww, str, "the word")
        w_start, w_end = ms(w.get("start", 0), ww, "start"), ms(w.get("end", 0), ww, "end")
        if not runs or runs[-1].label != spk:
            runs.append(_Run(spk, "", w_start, w_end))
            parts.append([])
        parts[-1].append(token)
        runs[-1].end_ms = max(runs[-1].end_ms, w_end)
    for run, ws in zip(runs, parts, strict=True):
        run.text = join(ws)
    return runs


class _Assembler:
    """Joins is_final pieces per channel into utterances; interim results become partial turns."""

    def __init__(self) -> None:
        self.open: dict[int, _Open] = {}
        self.turns: list[Turn] = []

    def flush(self, channel: int) -> None:
        current = self.open.pop(channel, None)
        if current is not None and current.parts:
            self.turns.append(current.turn(final=True))

    def results(self, msg: dict[str, Any], where: str) -> None:
        channel, multichannel = _channel(msg, where)
        is_final = require(msg, "is_final", where, bool, "true or false") if "is_final" in msg else False
        for run in _runs(msg, where, channel, multichannel):
            current = self.open.get(channel)
            if current is not None and run.label is not None and current.label not in (None, run.label):
                self.flush(channel)  # another diarized speaker: the previous utterance is over
                current = None
            if not is_final:
                if current is not None:
                    self.turns.append(current.turn(final=False, extra=run.text, where=where))
                elif run.text.strip():
                    self.turns.append(Turn(where, run.label, run.text, run.start_ms, run.end_ms, False,
                                           f"dg-{channel}-{run.start_ms}"))
                continue
            if not run.text.strip():
                continue
            if current is None:
                current = self.open[channel] = _Open(where, run.label, f"dg-{channel}-{run.start_ms}",
                                                     run.start_ms, run.end_ms)
            current.parts.append(run.text)
            current.end_ms = max(current.end_ms, run.end_ms)
            current.label = current.label or run.label
        if is_final and msg.get("speech_final") is True:
            self.flush(channel)
        elif is_final and channel in self.open:
            self.turns.append(self.open[channel].turn(final=False, where=where))


def _unlabelled(where: str) -> FormatError:
    return FormatError("expected words[].speaker (diarize=true) or channel_index [channel, channels] "
                       "with more than one channel (multichannel=true) to tell the parties apart, got neither",
                       field="channel_index", expected="words[].speaker or more than one channel",
                       got="neither", where=where)


class Reader:
    """Deepgram live messages one at a time (see the module docstring); a StreamReader."""

    def __init__(self, opts: ReadOptions, source: str, live: bool):
        self.asm = _Assembler()
        self.kinds: set[Kind] = set()
        self.out = TurnStream(opts, source, hold=not live, unlabelled=_unlabelled)

    @property
    def holding(self) -> bool:
        return bool(self.asm.open)

    def push(self, message: Any, where: str) -> list[Item]:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in MESSAGE_TYPES:
            expected = f"one of {', '.join(MESSAGE_TYPES)}"
            return [Item(where, problem=f"field 'type': expected {expected}, got {kind!r}",
                         field="type", expected=expected, got=repr(kind))]
        problems: list[Item] = []
        try:
            if kind == "Results":
                self.asm.results(message, where)
                self.kinds.add("channel" if _channel(message, where)[1] else "speaker")
            elif kind == "UtteranceEnd":
                self.asm.flush(_channel({"channel_index": message.get("channel", [0, 1])}, where)[0])
        except FormatError as exc:
            problems.append(Item.failed(where, exc))
        return problems + self._turns()

    def close(self, where: str) -> list[Item]:
        for channel in list(self.asm.open):
            self.asm.flush(channel)
        out = self._turns()
        return out + self.out.finish(where, "channel" if "channel" in self.kinds else "speaker")

    def _turns(self) -> list[Item]:
        turns, self.asm.turns = self.asm.turns, []
        return self.out.add(turns)


def read(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    return read_stream(Reader(opts, source, live=False), content, source)


FORMAT = Format("deepgram", "Deepgram streaming responses (JSON Lines or a JSON array of messages)", _sniff, read,
                Reader)
