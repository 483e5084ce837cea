"""Bounds at the event boundary (issue 12, findings 3 and 8): identifiers are short and printable,
extra fields are few and small; each refusal names the field, what was expected and what came."""

from __future__ import annotations

from typing import Any

import pytest

from assist.core.events import MAX_EXTRA_CHARS, MAX_EXTRA_FIELDS, MAX_ID_CHARS, parse_event
from assist.errors import EventError


def start(**fields: Any) -> dict[str, Any]:
    return {"type": "call.start", "call_id": "c1", "t_ms": 0, "agent_id": "a7", "lang": "en", **fields}


def utterance(**fields: Any) -> dict[str, Any]:
    return {"type": "utterance", "call_id": "c1", "speaker": "customer", "text": "hi", "start_ms": 0,
            "end_ms": 10, **fields}


def refused(obj: dict[str, Any]) -> EventError:
    with pytest.raises(EventError) as info:
        parse_event(obj)
    return info.value


@pytest.mark.parametrize(("make", "field"), [
    (lambda v: start(call_id=v), "call_id"), (lambda v: start(agent_id=v), "agent_id"),
    (lambda v: start(lang=v), "lang"), (lambda v: utterance(utterance_id=v), "utterance_id"),
    (lambda v: {"type": "feedback", "call_id": "c1", "t_ms": 5, "prompt_id": v, "action": "ack"}, "prompt_id"),
])
def test_every_identifier_is_bounded_and_printable(make: Any, field: str) -> None:
    assert parse_event(make("x" * MAX_ID_CHARS))  # the longest allowed
    err = refused(make("x" * 200_000))
    assert err.field == field and str(MAX_ID_CHARS) in err.expected
    for hostile in ("a\u202eb", "a\u200bb", "a\x00b", "a\nb", "\ufeffa", "a\u2066b"):
        err = refused(make(hostile))
        assert err.field == field and "control" in err.expected, hostile
    assert parse_event(make("客户-7é"))  # non-ASCII letters are fine


def test_free_text_keeps_its_characters() -> None:
    ev = parse_event(utterance(text="He said \u202eolleh\u202c and left\n"))
    assert "\u202e" in ev.text  # the pages isolate it; the engine reads it as it came


def test_extra_fields_are_few_and_small() -> None:
    assert parse_event(start(note="from the IVR", queue={"name": "billing", "wait_s": 12}))
    err = refused(start(**{f"x{i}": i for i in range(MAX_EXTRA_FIELDS + 1)}))
    assert err.field == "" and str(MAX_EXTRA_FIELDS) in err.expected
    err = refused(start(note="n" * (MAX_EXTRA_CHARS + 1)))
    assert err.field == "note" and str(MAX_EXTRA_CHARS) in err.expected
    deep: Any = 1
    for _ in range(50):
        deep = [deep]
    err = refused(start(note=deep))
    assert err.field.startswith("note") and "nested" in err.expected
