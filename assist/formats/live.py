"""A vendor stream arriving live, one message at a time: the same readers replay uses over a file.

    stream = LiveStream.open("deepgram", {"call_id": "c1", "agent_id": "a7", "agent_speaker": "0"})
    batch = stream.message(raw_websocket_text)    # index, native events, problems
    ...
    stream.close()                                # normal end: what was held, then call.end

It knows nothing of websockets or the hub: a server (the embedded one, or a gateway in front of
workers) feeds each event of `batch.events` to its engine and answers the message by `batch.index`.

Call metadata comes from the connection's query parameters, with the names and meaning of replay's
options. A call's `call.start` and `call.end` carry fixed `seq`s (0 and 1), so a stream that resumes on a
new connection after an abnormal close is recognised as the same call: its call.start is a duplicate,
and resent utterances are recognised by their `utterance_id` (the vendor's result/segment id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assist.core.events import describe, json_problem
from assist.errors import FormatError
from assist.formats import Item, ReadOptions, StreamReader, formats

START_SEQ, END_SEQ = 0, 1
# format → the query parameters it needs besides the token (one of a tuple: either will do)
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "deepgram": (("call_id",), ("agent_channel", "agent_speaker")),
    "transcribe-streaming": (("call_id",), ("agent_channel", "agent_speaker")),
    "lca": (),  # every event carries its CallId, and the Channel says who is the agent
}
PARAMS = ("format", "token", "call_id", "agent_id", "lang", "agent_channel", "agent_speaker", "first_index")


@dataclass(slots=True)
class Batch:
    """What one vendor message became: its index on the stream, native events, problems."""

    index: int
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Item] = field(default_factory=list)


class LiveStream:
    """One /ingest connection speaking a vendor format."""

    def __init__(self, fmt: str, reader: StreamReader, first_index: int = 0):
        self.format = fmt
        self.reader = reader
        self.next_index = first_index

    @classmethod
    def open(cls, fmt: str, params: Mapping[str, str]) -> LiveStream:
        """A stream for `fmt` with call metadata from `params`; FormatError naming the parameter if unusable."""
        if fmt not in REQUIRED:
            expected = ", ".join(["native", *REQUIRED])
            raise FormatError(f"query parameter 'format': expected one of {expected}, got {fmt!r}",
                              field="format", expected=expected, got=repr(fmt))
        unknown = sorted(set(params) - set(PARAMS))
        if unknown:
            raise FormatError(f"query parameter '{unknown[0]}': expected one of {', '.join(PARAMS)}, "
                              f"got {unknown[0]!r}", field=unknown[0], expected=", ".join(PARAMS),
                              got=repr(unknown[0]))
        for names in REQUIRED[fmt]:
            if not any(params.get(n) for n in names):
                wanted = " or ".join(names)
                raise FormatError(f"query parameter '{names[0]}': format {fmt} expected {wanted}, got nothing",
                                  field=names[0], expected=wanted, got="nothing")
        first = params.get("first_index", "0")
        if not first.isdigit():
            raise FormatError(f"query parameter 'first_index': expected a whole number >= 0, got {first!r}",
                              field="first_index", expected="a whole number >= 0", got=repr(first))
        opts = ReadOptions(call_id=params.get("call_id", ""), lang=params.get("lang") or None,
                           agent_id=params.get("agent_id") or None,
                           agent_channel=params.get("agent_channel") or None,
                           agent_speaker=params.get("agent_speaker") or None)
        make = formats()[fmt].stream
        assert make is not None, fmt
        return cls(fmt, make(opts, "live", True), int(first))

    @property
    def holding(self) -> bool:
        """Part of an utterance is held back: acks for the messages so far must wait (see the server)."""
        return self.reader.holding

    def message(self, raw: str | bytes) -> Batch:
        """One websocket message as the vendor sent it."""
        batch = Batch(self.next_index)
        self.next_index += 1
        where = f"message {batch.index}"
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            got = json_problem(exc)
            batch.problems.append(Item(where, problem=f"expected a JSON object, got {got}",
                                       field="", expected="a JSON object", got=got))
            return batch
        if not isinstance(obj, dict):
            got = describe(obj)
            batch.problems.append(Item(where, problem=f"expected a JSON object, got {got}",
                                       field="", expected="a JSON object", got=got))
            return batch
        self._sort(self.reader.push(obj, where), batch)
        return batch

    def close(self) -> list[dict[str, Any]]:
        """The connection closed normally: the call (or every call of an LCA stream) ends."""
        batch = Batch(self.next_index)
        self._sort(self.reader.close(f"message {self.next_index}"), batch)
        return batch.events

    @staticmethod
    def _sort(items: list[Item], batch: Batch) -> None:
        for item in items:
            if item.event is None:
                batch.problems.append(item)
                continue
            ev = item.event
            if ev["type"] == "call.start":
                ev["seq"] = START_SEQ
            elif ev["type"] == "call.end":
                ev["seq"] = END_SEQ
            batch.events.append(ev)
