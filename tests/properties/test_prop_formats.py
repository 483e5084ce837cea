"""Every transcript format, detected or forced, and replay, on arbitrary file contents.

A file gives items (each naming file:line, each an event or a problem) or one FormatError naming the
file; replay turns everything into steps and problems, and no exception escapes.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assist import load_rules
from assist.core.events import parse_event
from assist.errors import EventError, FormatError
from assist.formats import ReadOptions, formats, read_file
from assist.replay import Problem, Step, replay

from ._guard import isolated
from ._strategies import EVENT_OBJECTS, PROPS, hostile_bytes, json_lines, mixed_text

RULES = load_rules()
FORCED = [None, *formats()]  # None: detect the format from the file

transcripts = st.one_of(
    hostile_bytes(),
    json_lines(EVENT_OBJECTS).map(str.encode),
    mixed_text(max_pieces=60).map(lambda s: ("Agent: hello\n" + s).encode("utf-8", "surrogatepass")),
)
SAMPLES = [
    b"[" * 10_000,                                         # RecursionError escaped the jsonl reader (fixed)
    b'{"type": "call.start", "call_id": "c", "t_ms": ' + b"1" * 5000 + b"}",   # int past 4,300 digits (fixed)
    "cuſtomer: hi\n".encode(),                             # re.I matched 'ſ' for 's': KeyError (fixed)
    "Agent: hi\nclİent: what\n".encode(),
    b"Agent: " + b"a" * 1_000_000,
    b"\xef\xbb\xbf\xff",
]


@contextmanager
def _file(data: bytes, suffix: str = ".txt") -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"call{suffix}"
        path.write_bytes(data)
        yield path


def _read_and_check(path: Path, fmt: str | None) -> None:
    try:
        items = list(read_file(path, fmt, ReadOptions(call_id=path.stem)))
    except FormatError as exc:
        assert str(path) in str(exc), str(exc)
        return
    # a line number, or for a file holding one JSON array, the element's index: file:[3]
    where = re.compile(re.escape(str(path)) + r":(?:\d+|\[\d+\])$")
    for item in items:
        assert where.match(item.where), item.where
        assert (item.event is None) != (item.problem is None), item
        if item.problem is not None:
            assert item.problem.strip()
            continue
        try:
            parse_event(item.event, item.where)
        except EventError as exc:
            assert str(exc).startswith(item.where), str(exc)


@pytest.mark.parametrize("fmt", FORCED, ids=lambda f: f or "detect")
def test_read_file_on_any_contents(fmt: str | None) -> None:
    @settings(PROPS, max_examples=20)  # one test per format: fewer examples each
    @given(transcripts)
    def prop(data: bytes) -> None:
        with _file(data) as path:
            _read_and_check(path, fmt)

    for data in SAMPLES:
        prop = example(data)(prop)
    isolated(timeout=60)(prop)()


@isolated(timeout=60)
@PROPS
@given(transcripts, st.sampled_from(FORCED), st.sampled_from([".txt", ".jsonl"]))
@example(SAMPLES[0], None, ".jsonl")
@example(SAMPLES[2], None, ".txt")
@example(SAMPLES[4], "text", ".txt")
def test_replay_reports_problems_and_never_raises(data: bytes, fmt: str | None, suffix: str) -> None:
    with _file(data, suffix) as path:
        results = list(replay([path], RULES, fmt=fmt))
    for r in results:
        assert isinstance(r, Step | Problem)
        if isinstance(r, Problem):
            assert r.where.startswith(str(path)) and r.message.strip(), r
        else:
            for out in r.outputs:
                json.dumps(out.to_dict(), ensure_ascii=False).encode("utf-8")
