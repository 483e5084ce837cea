"""Wire events (the native JSON Lines stream, also used by /ingest), validated with pydantic.

Unknown fields are kept on the model (``extra="allow"``) but never reach the rules.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, ValidationInfo, field_validator

from assist.errors import EventError


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=False)

    call_id: str = Field(min_length=1, max_length=200)
    seq: int | None = None


class CallStart(_Event):
    type: Literal["call.start"]
    t_ms: int = Field(ge=0)
    agent_id: str | None = None
    lang: str | None = None


class Utterance(_Event):
    type: Literal["utterance"]
    speaker: Literal["agent", "customer"]
    text: str = Field(max_length=20_000)
    start_ms: int = Field(ge=0)
    end_ms: int = Field(ge=0)
    final: bool = True
    utterance_id: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("end_ms")
    @classmethod
    def _end_after_start(cls, end_ms: int, info: ValidationInfo) -> int:
        # a field validator, so the error names 'end_ms' (a model validator's error names no field)
        start_ms = info.data.get("start_ms")
        if start_ms is not None and end_ms < start_ms:
            raise ValueError(f"end_ms ({end_ms}) is before start_ms ({start_ms})")
        return end_ms

    @property
    def t_ms(self) -> int:
        return self.end_ms


class CallEnd(_Event):
    type: Literal["call.end"]
    t_ms: int = Field(ge=0)


class Tick(_Event):
    """Clock tick injected by a live shell so deadlines pass while nobody speaks."""

    type: Literal["tick"]
    t_ms: int = Field(ge=0)


class Feedback(_Event):
    """What the agent did with a prompt in the sidebar; logged with the call so replays include it."""

    type: Literal["feedback"]
    t_ms: int = Field(ge=0)
    prompt_id: str = Field(min_length=1, max_length=200)
    action: Literal["ack", "dismiss", "helpful", "not_helpful"]


AnyEvent = CallStart | Utterance | CallEnd | Tick | Feedback
Event = Annotated[AnyEvent, Field(discriminator="type")]
_EVENT = TypeAdapter(Event)
EVENT_TYPES = ("call.start", "utterance", "call.end", "tick", "feedback")


def event_time(event: AnyEvent) -> int:
    return event.end_ms if isinstance(event, Utterance) else event.t_ms


def describe(value: Any) -> str:
    """A short, safe rendering of what came, for error messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    except (ValueError, RecursionError):  # an int past Python's 4,300-digit limit, or nesting too deep
        text = f"{type(value).__name__} too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def parse_event(obj: Any, where: str = "") -> AnyEvent:
    """Validate one decoded JSON value as an event; raise EventError naming the field on failure."""
    if not isinstance(obj, dict):
        raise EventError(
            "expected a JSON object", where=where, field="", expected="object", got=type(obj).__name__
        )
    kind = obj.get("type")
    if kind not in EVENT_TYPES:
        raise EventError(
            f"field 'type': expected one of {', '.join(EVENT_TYPES)}, got {describe(kind)}",
            where=where, field="type", expected=" | ".join(EVENT_TYPES), got=describe(kind),
        )
    try:
        return _EVENT.validate_python(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"] if p != kind]
        field = ".".join(loc)
        got = describe(first.get("input")) if first["type"] != "missing" else "nothing (field missing)"
        expected = first["msg"]
        raise EventError(
            f"field '{field}': {expected}; got {got}", where=where, field=field, expected=expected, got=got
        ) from None


def parse_event_json(line: str | bytes, where: str = "") -> AnyEvent:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:  # ValueError covers JSONDecodeError, UnicodeDecodeError
        raise EventError(
            f"expected a JSON object, got {json_problem(exc)}", where=where, expected="JSON object",
            got="invalid JSON",
        ) from None
    return parse_event(obj, where)


def json_problem(exc: ValueError | RecursionError) -> str:
    """What json.loads could not read, in words; it raises more than JSONDecodeError on hostile input."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to read"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc.msg} at column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid JSON ({exc.reason} at byte {exc.start})"
    return f"JSON that cannot be read ({str(exc).split(';')[0]})"  # e.g. an integer over 4,300 digits
