"""The durable call log: one SQLite file in WAL mode, one row per accepted inbound event and per
outbound output, in arrival order.

    log = CallLog("calls.db")
    log.opened("c1", "a7"); log.inbound("c1", "call.start", 1, None, '{"type":"call.start",...}')
    log.commit()                         # rows become durable here; the server acks only after this
    log.open_calls()                     # [OpenCall("c1", "a7", [<inbound events>...])]

Writes are buffered in memory (the hub never waits on disk) and written by `commit()`, which the
server runs once per event-loop turn before sending that turn's acks. `sync="normal"` survives the
process being killed (what WAL gives without an fsync per commit); `sync="full"` also survives the
machine losing power, at the cost of an fsync per commit.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from assist.errors import AssistError

Sync = Literal["normal", "full"]
_OPEN = "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, NULL, NULL)"
_CLOSE = "UPDATE calls SET ended_at = ?, reason = ? WHERE call_id = ?"
IN, OUT = 0, 1
SCHEMA = """
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


class CallLogError(AssistError):
    """The call log cannot be opened, read or written."""


@dataclass(frozen=True, slots=True)
class OpenCall:
    call_id: str
    agent_id: str | None
    events: list[dict[str, Any]]  # inbound events since its call.start, in arrival order


def _connect(path: Path, sync: Sync) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={sync.upper()}")
        db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run off the event loop (Checkpointer)
    except sqlite3.Error as exc:
        raise CallLogError(f"{path}: cannot open the call log ({exc})") from None
    return db


class CallLog:
    """Appends rows in batches; reads what recovery, export, idempotency and purge need."""

    def __init__(self, path: str | Path, *, sync: Sync = "normal", checkpoint_s: float | None = 1.0):
        self.path = Path(path)
        self.db = _connect(self.path, sync)
        try:
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise CallLogError(f"{self.path}: not a call log, or not writable ({exc})") from None
        self.next_n = (self.db.execute("SELECT max(n) FROM rows").fetchone()[0] or 0) + 1
        self._rows: list[tuple[Any, ...]] = []
        self._calls: list[tuple[str, tuple[Any, ...]]] = []  # opens and closes, in order (ids are reused)
        self._checkpointer = Checkpointer(self.path, checkpoint_s) if checkpoint_s else None

    # -- buffered writes (called by the hub, never block) ---------------------------------------------
    @property
    def pending(self) -> int:
        return len(self._rows) + len(self._calls)

    def inbound(self, call_id: str, kind: str, seq: int | None, uid: str | None, body: str) -> None:
        self._rows.append((self.next_n, call_id, IN, kind, seq, uid, time.time(), body))
        self.next_n += 1

    def outbound(self, call_id: str, kind: str, body: str) -> None:
        self._rows.append((self.next_n, call_id, OUT, kind, None, None, time.time(), body))
        self.next_n += 1

    def opened(self, call_id: str, agent_id: str | None) -> None:
        """Mark a call open from the next row on (call this before logging its call.start)."""
        self._calls.append((_OPEN, (call_id, agent_id, self.next_n, time.time())))

    def closed(self, call_id: str, reason: str) -> None:
        self._calls.append((_CLOSE, (time.time(), reason, call_id)))

    def commit(self) -> int:
        """Write every buffered row in one transaction; return how many rows were written."""
        if not self.pending:
            return 0
        rows, calls = self._rows, self._calls
        self._rows, self._calls = [], []
        db = self.db
        try:
            db.execute("BEGIN")
            db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            for sql, params in calls:
                db.execute(sql, params)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise CallLogError(f"{self.path}: cannot write the call log ({exc})") from None
        return len(rows)

    def close(self) -> None:
        self.commit()
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.db.close()

    # -- reads ------------------------------------------------------------------------------------------
    def open_calls(self) -> list[OpenCall]:
        """Calls that were open when the log was last written, with their inbound events."""
        calls = self.db.execute("SELECT call_id, agent_id, first_n FROM calls WHERE ended_at IS NULL "
                                "ORDER BY first_n").fetchall()
        return [OpenCall(cid, agent, list(self._inbound(cid, first))) for cid, agent, first in calls]

    def _inbound(self, call_id: str, first_n: int) -> Iterator[dict[str, Any]]:
        for (body,) in self.db.execute("SELECT body FROM rows WHERE call_id = ? AND n >= ? AND dir = 0 "
                                       "ORDER BY n", (call_id, first_n)):
            yield json.loads(body)

    def events(self, call_id: str, *, outbound: bool = False) -> list[dict[str, Any]]:
        """The inbound events (or outbound outputs) of the latest call under `call_id`, in order."""
        found = self.db.execute("SELECT first_n FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        if found is None:
            raise CallLogError(f"{self.path}: no call '{call_id}' in the call log (expected the id of a "
                               "logged call, not purged)")
        rows = self.db.execute("SELECT body FROM rows WHERE call_id = ? AND n >= ? AND dir = ? ORDER BY n",
                               (call_id, found[0], OUT if outbound else IN))
        return [json.loads(body) for (body,) in rows]

    def accepted(self, call_id: str) -> tuple[set[int], set[str]] | None:
        """The seqs and utterance ids accepted for an ended call (None: the log never saw it open
        and end). Lets a restarted server answer a resent event with a duplicate ack."""
        row = self.db.execute("SELECT ended_at FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        seqs: set[int] = set()
        uids: set[str] = set()
        for seq, uid in self.db.execute("SELECT seq, uid FROM rows WHERE call_id = ? AND dir = 0 AND "
                                        "(seq IS NOT NULL OR uid IS NOT NULL)", (call_id,)):
            if seq is not None:
                seqs.add(seq)
            if uid is not None:
                uids.add(uid)
        return seqs, uids

    def purge(self, older_than_days: float, now: float | None = None) -> int:
        """Delete calls that ended more than `older_than_days` ago, with their rows; open calls are
        never touched. Returns how many calls went."""
        return purge(self.db, older_than_days, now)

    def stats(self) -> dict[str, int]:
        calls, open_ = self.db.execute("SELECT count(*), count(*) - count(ended_at) FROM calls").fetchone()
        rows = self.db.execute("SELECT count(*) FROM rows").fetchone()[0]
        return {"calls": calls, "open_calls": open_, "rows": rows}


def purge(db: sqlite3.Connection, older_than_days: float, now: float | None = None) -> int:
    cutoff = (time.time() if now is None else now) - older_than_days * 86_400
    try:
        db.execute("BEGIN IMMEDIATE")
        ids = [r[0] for r in db.execute("SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND "
                                        "ended_at < ?", (cutoff,))]
        db.executemany("DELETE FROM rows WHERE call_id = ?", ((i,) for i in ids))
        db.executemany("DELETE FROM calls WHERE call_id = ?", ((i,) for i in ids))
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise CallLogError(f"cannot purge the call log ({exc})") from None
    return len(ids)


def purge_file(path: str | Path, older_than_days: float) -> int:
    """`assist purge`: purge a log file, also while a server is writing it (WAL allows both)."""
    if not Path(path).exists():
        raise CallLogError(f"{path}: no such call log")
    db = _connect(Path(path), "normal")
    try:
        gone = purge(db, older_than_days)
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return gone
    finally:
        db.close()


def export_jsonl(path: str | Path, call_id: str) -> str:
    """A logged call's inbound events as native JSON Lines (what `assist replay` reads)."""
    if not Path(path).exists():
        raise CallLogError(f"{path}: no such call log")
    log = CallLog(path, checkpoint_s=None)
    try:
        events = log.events(call_id)
    finally:
        log.db.close()
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)


class GroupCommit:
    """One commit per event-loop turn for everyone who needs their rows durable in that turn.

    `await commits.durable()` returns once every row buffered so far is committed; the acks of all
    ingest connections that ran in one turn share a single transaction."""

    def __init__(self, log: CallLog):
        self.log = log
        self._done: asyncio.Future[None] | None = None
        self.commits = 0

    async def durable(self) -> None:
        if self._done is None:
            if not self.log.pending:
                return
            self._done = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._commit)
        await asyncio.shield(self._done)

    def _commit(self) -> None:
        done, self._done = self._done, None
        assert done is not None
        try:
            self.log.commit()
        except CallLogError as exc:
            done.set_exception(exc)
            done.exception()  # retrieved: each waiter re-raises it
            return
        self.commits += 1
        done.set_result(None)


class Checkpointer:
    """Moves the WAL into the database file from a thread with its own connection, so the fsyncs a
    checkpoint needs never stall the event loop (SQLite's automatic checkpoint would run inside a
    commit, on the loop)."""

    def __init__(self, path: Path, every_s: float):
        self._stop = threading.Event()
        self._every_s = every_s
        self._path = path
        self._thread = threading.Thread(target=self._run, name="calllog-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=30.0)
        try:
            while not self._stop.wait(self._every_s):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue  # busy now; the next round catches up
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        finally:
            db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
