"""parse_event: any decoded input gives an event or an EventError that says where (hostile JSON text
itself is the server's to refuse: see the hostile-input tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from assist.core.events import CallEnd, CallStart, Tick, Utterance, parse_event
from assist.errors import AssistError, EventError

from ._guard import isolated
from ._strategies import EVENT_OBJECTS, JSON_VALUES, PROPS

WHERE = "calls/x.jsonl:7"
EVENTS = (CallStart, Utterance, CallEnd, Tick)


def _check(parse: Any, value: Any) -> None:
    try:
        event = parse(value, WHERE)
    except EventError as exc:
        assert str(exc).startswith(f"{WHERE}: "), str(exc)
        assert len(str(exc)) > len(WHERE) + 10
    except AssistError as exc:  # pragma: no cover - any other AssistError is a wrong type here
        raise AssertionError(f"expected EventError, got {type(exc).__name__}: {exc}") from exc
    else:
        assert isinstance(event, EVENTS)
        assert event.call_id


@isolated(timeout=60)
@PROPS
@given(st.one_of(JSON_VALUES, EVENT_OBJECTS))
@example({"type": 10**5000})                              # describe() raised ValueError (fixed)
@example({"type": "tick", "call_id": 10**5000, "t_ms": 1})
@example({"type": "utterance", "call_id": "c", "speaker": "agent", "text": "x", "start_ms": 5, "end_ms": 1})
def test_parse_event_on_any_json_value(obj: Any) -> None:
    _check(parse_event, obj)
