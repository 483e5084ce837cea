"""The server's log: one structured line per event (JSON when stderr is not a terminal), said once at start,
exceptions as a field, no websockets chatter per connection."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from assist.server.logs import configure


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("websockets").setLevel(logging.NOTSET)


def test_serve_logs_json_lines_and_announces_itself_once(tmp_path: Path) -> None:
    err = tmp_path / "stderr"
    env = {**os.environ, "ASSIST_TOKENS__CTI": "cti-secret-for-tests", "PYTHONUNBUFFERED": "1"}
    with err.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "assist", "serve", "--port", "0", "--no-log"],
                                stdout=subprocess.DEVNULL, stderr=sink, env=env)
    try:
        listening = _wait_for(err, "listening", proc)
        ws_url = listening["url"].replace("http://", "ws://") + "ingest"
        with connect(ws_url, additional_headers={"Authorization": "Bearer cti-secret-for-tests"}) as ws:
            ws.send(json.dumps({"type": "call.start", "call_id": "c1", "t_ms": 0, "lang": "en", "agent_id": "a7"}))
            assert json.loads(ws.recv())["type"] == "ack"
            ws.send(json.dumps({"type": "call.end", "call_id": "c1", "t_ms": 5000}))
            assert json.loads(ws.recv())["type"] == "ack"
        _wait_for(err, "disconnected", proc)
    finally:
        proc.terminate()
        proc.wait(30)
    lines = [json.loads(line) for line in err.read_text().splitlines()]  # every line is one JSON object
    for line in lines:
        assert list(line)[:4] == ["timestamp", "level", "logger", "event"], line
        assert line["timestamp"].endswith("Z")
    events = [line["event"] for line in lines]
    assert events.count("listening") == 1 and not any("serving on" in e or "server listening" in e for e in events)
    assert {"logger": "assist.server", "event": "connected", "role": "cti"}.items() <= lines[1].items()
    assert not [line for line in lines if line["logger"].startswith("websockets")]
    started = next(line for line in lines if line["event"] == "call_started")
    ended = next(line for line in lines if line["event"] == "call_ended")
    assert started["call_id"] == ended["call_id"] == "c1" and started["agent_id"] == "a7"
    assert ended["reason"] == "ended"


def test_an_exception_is_a_field_of_its_one_line(restore_logging: None) -> None:
    out = io.StringIO()
    configure("json", stream=out)
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger("assist.server").exception("engine_failed", extra={"call_id": "c1", "seq": 4})
    (line,) = out.getvalue().splitlines()
    obj = json.loads(line)
    assert obj["event"] == "engine_failed" and obj["level"] == "error" and obj["call_id"] == "c1"
    assert obj["exception"][0]["exc_type"] == "KeyError" and obj["exception"][0]["frames"]


def test_a_terminal_gets_readable_lines(restore_logging: None) -> None:
    out = io.StringIO()
    configure("console", stream=out)
    logging.getLogger("assist.server").info("connected", extra={"role": "agent", "agent_id": "a7"})
    line = out.getvalue()
    assert "connected" in line and "agent_id=a7" in line and "[assist.server]" in line
    assert not line.lstrip().startswith("{")


def _wait_for(path: Path, event: str, proc: subprocess.Popen[bytes]) -> dict[str, str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            if obj.get("event") == event:
                return obj  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"no {event!r} line; stderr: {path.read_text()[-2000:]}")
