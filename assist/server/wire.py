"""Messages on the wire: error frames built in one place from one problem shape, and the JSON text of
every message (`to_text`).

/ingest answers an event it refuses with ``{"type": "error", "code", "seq", "call_id", "field",
"expected", "got", "message"}`` (plus `index` on a vendor stream); /agent and /supervisor answer with
``{"kind": "error", "field", "expected", "got", "message"}`` (see docs/protocol.md).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from assist.core.events import safe_echo
from assist.errors import AssistError, CallEnded, CapacityError, Problem, UnknownCall

Reply = dict[str, Any]

# the code of an /ingest error frame, by the kind of error (anything else is "invalid")
ERROR_CODES: tuple[tuple[type[AssistError], str], ...] = (
    (UnknownCall, "unknown_call"), (CallEnded, "call_ended"), (CapacityError, "capacity"))


def _shape(err: AssistError | Problem) -> Reply:
    return {"field": err.field, "expected": err.expected, "got": err.got, "message": str(err)}


def ingest_error(err: AssistError | Problem, *, code: str | None = None, seq: Any = None, call_id: Any = None,
                 **context: Any) -> Reply:
    """The /ingest error frame for `err`; its code from the kind of error unless given. What it echoes
    of the client's input (seq, call_id) is made safe to send."""
    if code is None:
        code = next((c for kind, c in ERROR_CODES if isinstance(err, kind)), "invalid")
    return {"type": "error", "code": code, "seq": safe_echo(seq), "call_id": safe_echo(call_id), **_shape(err),
            **context}


def socket_error(err: AssistError | Problem) -> Reply:
    """The error answer on /agent or /supervisor for `err`."""
    return {"kind": "error", **_shape(err)}


def to_text(message: dict[str, Any]) -> str:
    """A message as JSON text, written once for all its receivers (orjson: a few µs less per message
    than `json.dumps`); what orjson cannot write (an integer over 64 bits, a lone surrogate) goes
    through `json.dumps` as before."""
    try:
        return orjson.dumps(message).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(message, ensure_ascii=False)
