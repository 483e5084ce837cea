"""/ingest?format=deepgram|transcribe-streaming|lca: a vendor's own messages, read by the replay readers.

Each websocket message is answered by its index on the stream (``first_index`` and up):
``{"type":"ack","index":n,"call_id":…}`` once every event it completed is applied (and, with the call
log, committed), or an error frame with the index, naming the field, what was expected and what came
(the call goes on). While a reader holds part of an utterance (Deepgram's ``is_final`` pieces before
``speech_final``) the acks of the messages so far wait: an ack promises that a client resending
everything after it loses nothing. A normal close ends the call; an abnormal one leaves it open for a
connection that resumes it (its call.start and resent finals are duplicates), until the idle timeout.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from assist.errors import FormatError, Problem
from assist.formats import Item
from assist.formats.live import LiveStream
from assist.server.wire import ingest_error

log = logging.getLogger("assist.server")
Reply = dict[str, Any]
Apply = Callable[[dict[str, Any], float], Reply]


def stream_for(path: str) -> LiveStream | tuple[HTTPStatus, str] | None:
    """The vendor stream an /ingest request asks for: None for the native stream, or the reason it
    cannot be opened (400 and a message naming the query parameter)."""
    params: Mapping[str, str] = dict(parse_qsl(urlsplit(path).query))
    fmt = params.get("format", "native")
    if fmt in ("native", "jsonl"):
        return None
    try:
        return LiveStream.open(fmt, params)
    except FormatError as exc:
        return HTTPStatus.BAD_REQUEST, f"{exc}\n"


def problem_frame(item: Item, index: int, call_id: str | None) -> Reply:
    problem = Problem(item.where, item.problem or "invalid message", item.field, item.expected, item.got)
    return ingest_error(problem, code="invalid", call_id=call_id, index=index)


class VendorIngest:
    """Answers for one vendor connection: `message` applies one websocket message through `apply`
    (the hub's ingest, or a gateway's) and returns the frames to send once the log holds them."""

    def __init__(self, stream: LiveStream, apply: Apply):
        self.stream = stream
        self.apply = apply
        self.waiting: list[Reply] = []  # acks held while the reader holds part of an utterance
        self.call_id: str | None = None

    def message(self, raw: str | bytes, stamp: float) -> list[Reply]:
        batch = self.stream.message(raw)
        replies = [problem_frame(p, batch.index, self.call_id) for p in batch.problems]
        for ev in batch.events:
            self.call_id = ev.get("call_id", self.call_id)
            reply = self.apply(ev, stamp)
            if reply["type"] == "error":
                reply["index"] = batch.index
                replies.append(reply)
        if not replies:
            ack: Reply = {"type": "ack", "index": batch.index, "call_id": self.call_id}
            ids = [ev["utterance_id"] for ev in batch.events if "utterance_id" in ev]
            if ids:  # the vendor's own result / segment ids, for clients that track those
                ack["utterance_ids"] = ids
            self.waiting.append(ack)
        if not self.stream.holding:
            replies, self.waiting = self.waiting + replies, []
        return replies

    def close(self, stamp: float) -> None:
        """The connection closed normally: what the reader held, then the call's end, applied (no one to answer)."""
        for ev in self.stream.close():
            reply = self.apply(ev, stamp)
            if reply["type"] == "error":
                log.warning(json.dumps({"event": "vendor_close_refused", "call_id": ev.get("call_id"),
                                        "message": reply.get("message")}, ensure_ascii=False))
