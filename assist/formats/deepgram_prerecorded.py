"""Deepgram pre-recorded (batch) response: one JSON document with ``metadata`` and ``results``.

With ``utterances=true`` the turns are ``results.utterances[]`` (``start``, ``end``, ``transcript``,
``speaker``, ``channel``); otherwise consecutive ``results.channels[].alternatives[0].words[]`` of one
speaker (``diarize=true``) or one channel (``multichannel=true``) make a turn. Which party is the
agent comes from ``--agent-speaker`` or ``--agent-channel``.

Field names follow:
  https://developers.deepgram.com/reference/speech-to-text-api/listen
  https://developers.deepgram.com/docs/utterances
  https://developers.deepgram.com/docs/diarization
  https://developers.deepgram.com/docs/multichannel
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from assist.errors import FormatError
from assist.formats import Format, Item, ReadOptions
from assist.formats._stt import Kind, Turn, events, join, label, load_json, ms, require, roles

_REQUEST = re.compile(r'"metadata"\s*:\s*\{[^}]*"request_id"\s*:')
_RESULTS = re.compile(r'"results"\s*:\s*\{\s*"(?:channels|utterances)"\s*:')


def _sniff(head: str) -> bool:
    text = head.lstrip()
    return text.startswith("{") and '"type"' not in text.split("\n", 1)[0][:200] and (
        bool(_REQUEST.search(head)) or bool(_RESULTS.search(head)))


def _utterance_turns(utterances: list[Any], source: str, multichannel: bool) -> list[Turn]:
    turns: list[Turn] = []
    for i, u in enumerate(utterances):
        where = f"{source}:results.utterances[{i}]"
        text = require(u, "transcript", where, str, "the utterance text")
        start = ms(require(u, "start", where, (int, float), "seconds"), where, "start")
        end = ms(require(u, "end", where, (int, float), "seconds"), where, "end")
        if multichannel:
            who = label("channel", require(u, "channel", where, int, "the channel number"))
        else:
            who = label("speaker", require(u, "speaker", where, int, "the speaker number (diarize=true)"))
        conf = u.get("confidence")
        turns.append(Turn(where, who, text, start, end, confidence=conf if isinstance(conf, float) else None))
    return turns


def _word_turns(channels: list[Any], source: str, multichannel: bool) -> list[Turn]:
    turns: list[Turn] = []
    for c, ch in enumerate(channels):
        cw = f"{source}:results.channels[{c}]"
        alts = require(ch, "alternatives", cw, list, "a list of alternatives")
        words = require(alts[0], "words", f"{cw}.alternatives[0]", list, "a list of words") if alts else []
        parts: list[str] = []
        for j, w in enumerate(words):
            ww = f"{cw}.alternatives[0].words[{j}]"
            if multichannel:
                who = label("channel", c)
            else:
                who = label("speaker", require(w, "speaker", ww, int, "the speaker number (diarize=true)"))
            token = w.get("punctuated_word") or require(w, "word", ww, str, "the word")
            start, end = ms(w.get("start", 0), ww, "start"), ms(w.get("end", 0), ww, "end")
            if not parts or turns[-1].label != who:
                turns.append(Turn(ww, who, "", start, end))
                parts = []
            parts.append(token)
            turns[-1].text = join(parts)
            turns[-1].end_ms = max(turns[-1].end_ms, end)
    turns.sort(key=lambda t: t.start_ms)
    return turns


def read(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    doc = load_json(content, source, "a Deepgram response document")
    results = require(doc, "results", source, dict, "an object with channels or utterances")
    channels = results.get("channels")
    multichannel = isinstance(channels, list) and len(channels) > 1
    kind: Kind = "channel" if multichannel else "speaker"
    if isinstance(results.get("utterances"), list):
        turns = _utterance_turns(results["utterances"], source, multichannel)
    elif isinstance(channels, list):
        turns = _word_turns(channels, source, multichannel)
    else:
        raise FormatError(f"field 'results': expected 'utterances' or 'channels', "
                          f"got keys {', '.join(map(str, results)) or 'none'}", where=source)
    speaker_of = roles((t.label for t in turns if t.label and t.text.strip()), kind, opts, source)
    yield from events(turns, speaker_of, opts, call_id=opts.call_id, where=f"{source}:1")


FORMAT = Format("deepgram-prerecorded", "Deepgram pre-recorded response JSON (results.utterances or words)",
                _sniff, read)
