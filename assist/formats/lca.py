"""Call events of AWS "Live Call Analytics" (LCA) and the stacks built on it, one JSON object a line:
``START`` / ``ADD_TRANSCRIPT_SEGMENT`` / ``END`` with ``EventType`` and ``CallId``. A segment has
``Channel`` (AGENT or CALLER; CUSTOMER from Call Analytics), ``SegmentId``, ``StartTime``/``EndTime`` in
seconds (numbers, or strings as the Chime transcriber writes them), ``Transcript`` and
``IsPartial``; segments that carry the raw ``UtteranceEvent`` (Call Analytics, ``ParticipantRole``)
or ``TranscriptEvent`` (``ChannelId`` ch_0 is the caller, as LCA maps it) instead are read too.
The file says who the agent is; any number of calls may be interleaved. Other event types
(recording URLs, categories, summaries…) are skipped; a final segment seen twice is emitted once.

Field names follow the LCA source:
  https://github.com/aws-samples/amazon-transcribe-live-call-analytics
    (lca-ai-stack/source/appsync/schema.graphql: AddTranscriptSegmentInput;
     lca-chimevc-stack/lambda_functions/call_transcriber/lca.js: writeCallStartEventToKds,
     writeTranscriptionSegmentToKds, writeUtteranceEventToKds, writeAddTranscriptSegmentEventToKds,
     writeCallEndEventToKds)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from assist.errors import FormatError
from assist.formats import Format, Item, ReadOptions
from assist.formats._stt import first_record, millis, ms, read_stream, require

_SHAPE = re.compile(r'^\{.*"EventType"\s*:\s*"[A-Z_]+"')
_PARTY = {"AGENT": "agent", "CALLER": "customer", "CUSTOMER": "customer"}


@dataclass(slots=True)
class _Segment:
    channel: str
    uid: str
    start_ms: int
    end_ms: int
    text: str
    partial: bool


def _sniff(head: str) -> bool:
    text, obj = first_record(head)
    if obj is None:
        return bool(_SHAPE.match(text)) and '"CallId"' in text
    return isinstance(obj, dict) and isinstance(obj.get("EventType"), str) and "CallId" in obj


def _plain(seg: dict[str, Any], where: str) -> _Segment:
    return _Segment(
        require(seg, "Channel", where, str, "AGENT or CALLER"),
        str(require(seg, "SegmentId", where, (str, int), "the segment id")),
        ms(require(seg, "StartTime", where, (int, float, str), "seconds"), where, "StartTime"),
        ms(require(seg, "EndTime", where, (int, float, str), "seconds"), where, "EndTime"),
        require(seg, "Transcript", where, str, "the segment text"),
        require(seg, "IsPartial", where, bool, "true or false"),
    )


def _from_utterance(u: Any, where: str) -> _Segment:
    w = f"{where}.UtteranceEvent"
    role = require(u, "ParticipantRole", w, str, "AGENT or CUSTOMER")
    return _Segment(
        role, str(require(u, "UtteranceId", w, str, "the utterance id")),
        millis(require(u, "BeginOffsetMillis", w, (int, float), "milliseconds"), w, "BeginOffsetMillis"),
        millis(require(u, "EndOffsetMillis", w, (int, float), "milliseconds"), w, "EndOffsetMillis"),
        require(u, "Transcript", w, str, "the utterance text"), require(u, "IsPartial", w, bool, "true or false"),
    )


def _from_transcript_event(ev: Any, where: str) -> _Segment | None:
    w = f"{where}.TranscriptEvent"
    results = require(require(ev, "Transcript", w, dict, "an object with Results"), "Results", w, list,
                    "a list of results")
    if not results or not results[0].get("Alternatives"):
        return None
    r = results[0]
    return _Segment(
        "CALLER" if r.get("ChannelId") == "ch_0" else "AGENT",
        str(require(r, "ResultId", w, str, "the result id")),
        ms(require(r, "StartTime", w, (int, float), "seconds"), w, "StartTime"),
        ms(require(r, "EndTime", w, (int, float), "seconds"), w, "EndTime"),
        str(r["Alternatives"][0].get("Transcript", "")), bool(r.get("IsPartial", False)),
    )


def _segment(obj: dict[str, Any], where: str) -> _Segment | None:
    if "Transcript" in obj or "Channel" in obj:
        return _plain(obj, where)
    if obj.get("UtteranceEvent"):
        return _from_utterance(obj["UtteranceEvent"], where)
    if obj.get("TranscriptEvent"):
        return _from_transcript_event(obj["TranscriptEvent"], where)
    raise FormatError("expected a segment with Channel, SegmentId, StartTime, EndTime, Transcript "
                      "and IsPartial (or an UtteranceEvent / TranscriptEvent), got none of them", where=where)


class _Calls:
    """Per-call state: started, ended, last time, finals already emitted."""

    def __init__(self, opts: ReadOptions) -> None:
        self.opts = opts
        self.started: set[str] = set()
        self.ended: set[str] = set()
        self.last_ms: dict[str, int] = {}
        self.finals: set[tuple[str, str]] = set()

    def start(self, call_id: str, obj: dict[str, Any], where: str) -> Iterator[Item]:
        if call_id in self.started:
            return
        self.started.add(call_id)
        ev: dict[str, Any] = {"type": "call.start", "call_id": call_id, "t_ms": 0}
        agent = self.opts.agent_id or obj.get("AgentId")
        if isinstance(agent, str) and agent:
            ev["agent_id"] = agent
        if self.opts.lang:
            ev["lang"] = self.opts.lang
        yield Item(where, event=ev)

    def segment(self, call_id: str, obj: dict[str, Any], where: str) -> Iterator[Item]:
        if call_id in self.ended:
            yield Item(where, problem=f"call '{call_id}' already ended: expected segments before END",
                       field="CallId", expected="a call that has not ended", got=call_id)
            return
        seg = _segment(obj, where)
        if seg is None or not seg.text.strip() or seg.channel.upper() not in _PARTY:
            return  # empty result, or an assistant/bot channel the rules do not read
        if not seg.partial:
            if (call_id, seg.uid) in self.finals:
                return
            self.finals.add((call_id, seg.uid))
        yield from self.start(call_id, {}, where)
        self.last_ms[call_id] = max(self.last_ms.get(call_id, 0), seg.end_ms)
        yield Item(where, event={
            "type": "utterance", "call_id": call_id, "speaker": _PARTY[seg.channel.upper()],
            "text": seg.text.strip(), "start_ms": seg.start_ms, "end_ms": max(seg.end_ms, seg.start_ms),
            "final": not seg.partial, "utterance_id": seg.uid})

    def end(self, call_id: str, where: str) -> Iterator[Item]:
        if call_id in self.ended:
            return
        yield from self.start(call_id, {}, where)
        self.ended.add(call_id)
        yield Item(where, event={"type": "call.end", "call_id": call_id, "t_ms": self.last_ms.get(call_id, 0)})


class Reader:
    """LCA call events one at a time; a StreamReader. Over a file, calls without END are left to replay
    (which closes them with a warning); live, a normal end of the stream ends them at their last time."""

    holding = False  # every segment goes out as it comes

    def __init__(self, opts: ReadOptions, source: str, live: bool):
        self.calls = _Calls(opts)
        self.live = live

    def push(self, message: Any, where: str) -> list[Item]:
        try:
            kind = require(message, "EventType", where, str, "START, ADD_TRANSCRIPT_SEGMENT or END")
            call_id = require(message, "CallId", where, str, "the call id")
            if kind == "START":
                return list(self.calls.start(call_id, message, where))
            if kind == "ADD_TRANSCRIPT_SEGMENT":
                return list(self.calls.segment(call_id, message, where))
            if kind == "END":
                return list(self.calls.end(call_id, where))
        except FormatError as exc:
            return [Item.failed(where, exc)]
        return []

    def close(self, where: str) -> list[Item]:
        if not self.live:
            return []
        return [item for call_id in sorted(self.calls.started - self.calls.ended)
                for item in self.calls.end(call_id, where)]


def read(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    return read_stream(Reader(opts, source, live=False), content, source)


FORMAT = Format("lca", "AWS Live Call Analytics call events (START / ADD_TRANSCRIPT_SEGMENT / END, JSON Lines)",
                _sniff, read, Reader)
