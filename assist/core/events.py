"""Wire events (the native JSON Lines stream, also used by /ingest), validated with pydantic.

Unknown fields are kept on the model (``extra="allow"``) but never reach the rules.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from assist.errors import EventError, Problem

_SURROGATE = re.compile("[\ud800-\udfff]")  # lone UTF-16 halves: no encoder can write them (UTF-8, SQLite)
NO_SURROGATES = "text without lone UTF-16 surrogates (U+D800-U+DFFF)"
MAX_INT = 2**53 - 1  # the largest integer JavaScript clients and SQLite both hold exactly
MAX_ID_CHARS = 128   # call, agent, utterance and prompt ids, and language tags
MAX_EXTRA_FIELDS = 16  # fields an event may carry besides its own (kept in the call log, never read)
MAX_EXTRA_CHARS = 4096  # their total size as JSON
MAX_EXTRA_DEPTH = 8
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})  # controls, bidi/zero-width formats, ...
ID_EXPECTED = (f"an identifier of at most {MAX_ID_CHARS} characters with no control or format characters "
               "(such as U+202E or U+200B)")


def _printable_id(value: str) -> str:
    """Refuse control and format characters: a U+202E in a call id mirrors the pages' headers."""
    if value.isascii():
        bad = _ASCII_CONTROL.search(value)
        ch = bad.group() if bad else None
    else:
        ch = next((c for c in value if unicodedata.category(c) in _HIDDEN), None)
    if ch is not None:
        raise ValueError(f"{ID_EXPECTED}; found U+{ord(ch):04X}")
    return value


Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(_printable_id)]
LangTag = Annotated[str, Field(max_length=MAX_ID_CHARS), AfterValidator(_printable_id)]  # "" means none


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=False)

    call_id: Identifier
    seq: int | None = Field(default=None, ge=0, le=MAX_INT)


class CallStart(_Event):
    type: Literal["call.start"]
    t_ms: int = Field(ge=0, le=MAX_INT)
    agent_id: Identifier | None = None
    lang: LangTag | None = None


class Utterance(_Event):
    type: Literal["utterance"]
    speaker: Literal["agent", "customer"]
    text: str = Field(max_length=20_000)
    start_ms: int = Field(ge=0, le=MAX_INT)
    end_ms: int = Field(ge=0, le=MAX_INT)
    final: bool = True
    utterance_id: Identifier | None = None
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
    t_ms: int = Field(ge=0, le=MAX_INT)


class CallTransfer(_Event):
    """The call moves to another agent (or, after a call.start without one, reaches its first agent)."""

    type: Literal["call.transfer"]
    t_ms: int = Field(ge=0, le=MAX_INT)
    agent_id: Identifier


class Tick(_Event):
    """Clock tick injected by a live shell so deadlines pass while nobody speaks."""

    type: Literal["tick"]
    t_ms: int = Field(ge=0, le=MAX_INT)


class Feedback(_Event):
    """What the agent did with a prompt in the sidebar; logged with the call so replays include it."""

    type: Literal["feedback"]
    t_ms: int = Field(ge=0, le=MAX_INT)
    prompt_id: Identifier
    action: Literal["ack", "dismiss", "helpful", "not_helpful"]


AnyEvent = CallStart | Utterance | CallEnd | CallTransfer | Tick | Feedback
Event = Annotated[AnyEvent, Field(discriminator="type")]
_EVENT = TypeAdapter(Event)
EVENT_TYPES = ("call.start", "utterance", "call.end", "call.transfer", "tick", "feedback")
_MODELS: dict[str, type[BaseModel]] = {"call.start": CallStart, "utterance": Utterance, "call.end": CallEnd,
                                       "call.transfer": CallTransfer, "tick": Tick, "feedback": Feedback}
_OWN_FIELDS = {kind: frozenset(model.model_fields) for kind, model in _MODELS.items()}


def event_time(event: AnyEvent) -> int:
    return event.end_ms if isinstance(event, Utterance) else event.t_ms


def describe(value: Any) -> str:
    """A short, safe rendering of what came, for error messages."""
    try:  # repr escapes lone surrogates; json.dumps keeps them, so they become U+FFFD below
        text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    except (ValueError, RecursionError):  # an int past Python's 4,300-digit limit, or nesting too deep
        text = f"{type(value).__name__} too large to show"
    text = text if len(text) <= 60 else text[:57] + "..."
    return _SURROGATE.sub("\ufffd", text) if not text.isascii() else text


def _plain(obj: Any) -> bool:
    """A flat object of ASCII keys, and strings without surrogates, numbers, booleans and nulls (every
    event but the odd one with nested extra fields): found without building a path per field."""
    if type(obj) is not dict:
        return False
    for key, value in obj.items():
        if type(key) is not str or not key.isascii():
            return False
        kind = type(value)
        if kind is str:
            if not value.isascii() and _SURROGATE.search(value):
                return False
        elif kind is not int and kind is not bool and kind is not float and value is not None:
            return False
    return True


def unencodable(obj: Any) -> tuple[str, str] | None:
    """The path and value of the first string (key or value, at any depth) holding a lone surrogate.

    json.loads reads "\\ud800" into a str that UTF-8 cannot encode: such a string must never get past
    the boundary, or the call log's write and every socket that echoes it fail later. Iterative, so
    nesting costs no recursion."""
    if _plain(obj):
        return None
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                return path, value
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and not key.isascii() and _SURROGATE.search(key):
                    return name, key
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
    return None


def _extras_problem(obj: dict[str, Any], own: frozenset[str]) -> tuple[str, str] | None:
    """(field, expected) when the fields an event carries beyond its own are too many, too big or
    too deep: they are stored with every event, so they are bounded like everything else."""
    extra = [k for k in obj if k not in own]
    if not extra:
        return None
    if len(extra) > MAX_EXTRA_FIELDS:
        return "", f"at most {MAX_EXTRA_FIELDS} fields besides the event's own, got {len(extra)}"
    size = 0
    for key in extra:
        if len(key) > MAX_ID_CHARS:
            return key[:40], f"field names of at most {MAX_ID_CHARS} characters"
        stack: list[tuple[str, Any, int]] = [(key, obj[key], 1)]
        while stack:
            path, value, depth = stack.pop()
            if depth > MAX_EXTRA_DEPTH:
                return path, f"extra fields nested at most {MAX_EXTRA_DEPTH} deep"
            if isinstance(value, dict):
                stack.extend((f"{path}.{k}", v, depth + 1) for k, v in value.items())
                size += sum(len(str(k)) + 4 for k in value)
            elif isinstance(value, list):
                stack.extend((f"{path}.{i}", v, depth + 1) for i, v in enumerate(value))
                size += 2 + len(value)
            else:
                size += len(value) + 2 if isinstance(value, str) else 24
            if size > MAX_EXTRA_CHARS:
                return key, f"extra fields of at most {MAX_EXTRA_CHARS} characters in all"
    return None


def safe_echo(value: Any) -> str | int | None:
    """A client's `seq`/`call_id` as an error frame may echo it: an int or a short clean string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if abs(value) <= MAX_INT else None
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value[:200])
    return None


def parse_event(obj: Any, where: str = "") -> AnyEvent:
    """Validate one decoded JSON value as an event; raise EventError naming the field on failure."""
    if not isinstance(obj, dict):
        raise EventError(
            "expected a JSON object", where=where, field="", expected="object", got=type(obj).__name__
        )
    bad = unencodable(obj)
    if bad is not None:
        field, value = _SURROGATE.sub("\ufffd", bad[0]), bad[1]  # the path may run through a bad key
        got = describe(value)
        raise EventError(f"field '{field}': expected {NO_SURROGATES}, got {got}", where=where, field=field,
                         expected=NO_SURROGATES, got=got)
    kind = obj.get("type")
    if kind not in EVENT_TYPES:
        raise EventError(
            f"field 'type': expected one of {', '.join(EVENT_TYPES)}, got {describe(kind)}",
            where=where, field="type", expected=" | ".join(EVENT_TYPES), got=describe(kind),
        )
    extras = _extras_problem(obj, _OWN_FIELDS[kind])
    if extras is not None:
        field, expected = extras
        raise EventError(f"field '{field}': expected {expected}", where=where, field=field, expected=expected,
                         got=describe(obj.get(field)) if field else f"{len(obj)} fields")
    try:
        return _EVENT.validate_python(obj)
    except ValidationError as exc:
        p = validation_problem(exc, where, skip=(kind,))
        raise EventError(p.message, where=p.where, field=p.field, expected=p.expected, got=p.got) from None


def validation_problem(exc: ValidationError, where: str = "", skip: tuple[object, ...] = ()) -> Problem:
    """The first problem pydantic found in an inbound message: the field (a dotted path, without the
    `skip` parts such as the event type pydantic puts in it), what was expected and what came."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"] if p not in skip)
    got = describe(first.get("input")) if first["type"] != "missing" else "nothing (field missing)"
    expected = first["msg"]
    return Problem(where, f"field '{field}': {expected}; got {got}", field, expected, got)


def json_problem(exc: ValueError | RecursionError) -> str:
    """What json.loads could not read, in words; it raises more than JSONDecodeError on hostile input."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to read"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc.msg} at column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid JSON ({exc.reason} at byte {exc.start})"
    return f"JSON that cannot be read ({str(exc).split(';')[0]})"  # e.g. an integer over 4,300 digits
