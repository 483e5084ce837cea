"""The call log's layout is versioned (PRAGMA user_version): a log written before versioning is upgraded in
place when opened, keeps its calls, and a log from a newer assist is refused with a clear message."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from assist.server.calllog import SCHEMA_VERSION, CallLog, CallLogError, export_jsonl

# The layout as the first release wrote it, verbatim, with no user_version (0).
PREVIOUS_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id   TEXT PRIMARY KEY,
    agent_id  TEXT,
    first_n   INTEGER NOT NULL,     -- row number of its latest call.start (a call id may be reused)
    opened_at REAL NOT NULL,        -- wall clock, seconds since the epoch
    ended_at  REAL,                 -- NULL while the call is open
    reason    TEXT                  -- ended | idle | shutdown
);
CREATE TABLE IF NOT EXISTS rows (
    n       INTEGER PRIMARY KEY,    -- arrival order
    call_id TEXT NOT NULL,
    dir     INTEGER NOT NULL,       -- 0 inbound event, 1 outbound output
    kind    TEXT NOT NULL,          -- event type or output kind
    seq     INTEGER,
    uid     TEXT,                   -- utterance_id
    at      REAL NOT NULL,
    body    TEXT NOT NULL           -- the event or output as JSON
);
CREATE INDEX IF NOT EXISTS rows_call ON rows (call_id, n);
CREATE INDEX IF NOT EXISTS calls_ended ON calls (ended_at) WHERE ended_at IS NOT NULL;
"""
START = {"type": "call.start", "call_id": "old-1", "t_ms": 0, "lang": "en", "agent_id": "a7", "seq": 1}
SAID = {"type": "utterance", "call_id": "old-1", "speaker": "customer", "text": "This is ridiculous!",
        "start_ms": 1000, "end_ms": 2500, "seq": 2}


@pytest.fixture
def previous_log(tmp_path: Path) -> Path:
    """A log as the previous schema left it: one open call with two events, one ended call."""
    path = tmp_path / "calls.db"
    db = sqlite3.connect(path)
    db.executescript(PREVIOUS_SCHEMA)
    db.execute("INSERT INTO calls VALUES ('old-1', 'a7', 1, 1.0, NULL, NULL)")
    db.execute("INSERT INTO calls VALUES ('old-0', 'a8', 3, 0.5, 0.9, 'ended')")
    for n, (event, kind) in enumerate([(START, "call.start"), (SAID, "utterance")], 1):
        db.execute("INSERT INTO rows VALUES (?, 'old-1', 0, ?, ?, NULL, 1.0, ?)",
                   (n, kind, event["seq"], json.dumps(event)))
    db.execute("INSERT INTO rows VALUES (3, 'old-0', 0, 'call.start', 1, NULL, 0.5, '{}')")
    db.commit()
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    db.close()
    return path


def test_a_log_of_the_previous_schema_is_upgraded_and_keeps_its_calls(previous_log: Path) -> None:
    log = CallLog(previous_log, checkpoint_s=None)
    try:
        (call,) = log.open_calls()
        assert (call.call_id, call.agent_id, call.events) == ("old-1", "a7", [START, SAID])
        assert log.accepted("old-0") == ({1}, set())
        log.opened("new-1", "a7")
        log.inbound("new-1", "call.start", 1, None, json.dumps({**START, "call_id": "new-1"}))
        log.commit()
    finally:
        log.close()
    db = sqlite3.connect(previous_log)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "calls_open" in indexes
    plan = " ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN SELECT call_id, agent_id, first_n FROM calls "
                                               "WHERE ended_at IS NULL ORDER BY first_n"))
    assert "calls_open" in plan  # recovery reads the open calls through the new index
    db.close()
    assert json.loads(export_jsonl(previous_log, "old-1").splitlines()[1]) == SAID


def test_a_new_log_starts_at_the_current_version(tmp_path: Path) -> None:
    CallLog(tmp_path / "new.db", checkpoint_s=None).close()
    db = sqlite3.connect(tmp_path / "new.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    CallLog(tmp_path / "new.db", checkpoint_s=None).close()  # opening again changes nothing


def test_a_log_from_a_newer_assist_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(CallLogError, match=rf"schema version {SCHEMA_VERSION + 1} was written by a newer assist; "
                                           rf"this one reads versions up to {SCHEMA_VERSION}"):
        CallLog(path, checkpoint_s=None)
