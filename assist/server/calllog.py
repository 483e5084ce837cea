"""The durable call log: one SQLite file in WAL mode, one row per accepted inbound event and per
outbound output, in arrival order.

    log = CallLog("calls.db")
    log.opened("c1", "a7"); log.inbound("c1", "call.start", 1, None, '{"type":"call.start",...}')
    log.commit()                         # rows become durable here; the server acks only after this
    log.open_calls()                     # [OpenCall("c1", "a7", [<inbound events>...])]

Writes are buffered in memory (the hub never waits on disk) and written in one transaction by
`commit()` (or `write(take())`), which the server's group commit (server/groupcommit.py) runs before it
sends the acks of what the transaction holds. `sync="normal"` survives the
process being killed (what WAL gives without an fsync per commit); `sync="full"` also survives the
machine losing power, at the cost of an fsync per commit.
"""

from __future__ import annotations

import json
import os
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
# A commit writes every page it changed to the WAL, and the rows_call index (call_id, n) takes each
# transaction's rows at as many places as there are calls in it: ~1 page per row. With 2 kB pages
# instead of SQLite's 4 kB a row cost ~13 us of the loop's CPU instead of ~21 us (measured: 17 events
# a transaction over 5,000 open calls). New logs only; a log keeps the page size it was made with.
PAGE_BYTES = 2048
_INSERT_SIZES = (64, 16, 4, 1)  # rows per INSERT statement: a batch is written in as few as these allow
_INSERT = {size: "INSERT INTO rows VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * size) for size in _INSERT_SIZES}
# The first layout (logs written before versioning have user_version 0 and this layout).
_SCHEMA_1 = """
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

# Each step takes a log from version i to i + 1 (PRAGMA user_version), in one transaction. Append a step for
# any change of layout; never edit a released one. A log from an older assist is upgraded when opened.
MIGRATIONS: tuple[str, ...] = (
    _SCHEMA_1,
    # 2: recovery lists the open calls through their own index, not a scan of every retained call
    "CREATE INDEX IF NOT EXISTS calls_open ON calls (first_n) WHERE ended_at IS NULL;",
    # 3: call summaries the webhook has not delivered yet (server/webhook.py)
    """CREATE TABLE IF NOT EXISTS summaries_due (
        n       INTEGER PRIMARY KEY,    -- a number from the same counter as rows.n (never repeats)
        call_id TEXT NOT NULL,
        body    TEXT NOT NULL           -- the webhook's JSON body
    );""",
)
SCHEMA_VERSION = len(MIGRATIONS)


class CallLogError(AssistError):
    """The call log cannot be opened, read or written."""


@dataclass(frozen=True, slots=True)
class Batch:
    rows: list[tuple[Any, ...]]
    calls: list[tuple[str, tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class OpenCall:
    call_id: str
    agent_id: str | None
    events: list[dict[str, Any]]  # inbound events since its call.start, in arrival order


def _connect(path: Path, sync: Sync) -> sqlite3.Connection:
    try:
        if not path.exists():  # transcripts are personal data: owner only (SQLite gives -wal/-shm the same mode)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        db.execute(f"PRAGMA page_size={PAGE_BYTES}")  # takes effect only in a file with nothing in it yet
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={sync.upper()}")
        db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run off the event loop (Checkpointer)
    except (sqlite3.Error, OSError) as exc:
        raise CallLogError(f"{path}: cannot open the call log ({exc})") from None
    return db


def upgrade(db: sqlite3.Connection, path: Path) -> int:
    """Bring the log to SCHEMA_VERSION (a new file gets every step); return the version it had. Raise
    CallLogError for a log written by a newer assist, or a file that is not a call log."""
    try:
        found = int(db.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise CallLogError(f"{path}: call log schema version {found} was written by a newer assist; this one "
                               f"reads versions up to {SCHEMA_VERSION} (upgrade assist, or use another --log)")
        for version in range(found, SCHEMA_VERSION):  # each step and its new version number commit together
            try:
                db.executescript(f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]}\n"
                                 f"PRAGMA user_version = {version + 1};\nCOMMIT;")
            except sqlite3.Error:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
    except sqlite3.Error as exc:
        raise CallLogError(f"{path}: not a call log, or not writable ({exc})") from None
    return found


class CallLog:
    """Appends rows in batches; reads what recovery, export, idempotency and purge need."""

    def __init__(self, path: str | Path, *, sync: Sync = "normal", checkpoint_s: float | None = 1.0):
        self.path = Path(path)
        self.db = _connect(self.path, sync)
        upgrade(self.db, self.path)
        self.reads = _connect(self.path, sync)  # reads never see (or wait for) a transaction `db` has open
        self.next_n = (self.db.execute("SELECT max(n) FROM (SELECT max(n) AS n FROM rows UNION ALL "
                                       "SELECT max(n) FROM summaries_due)").fetchone()[0] or 0) + 1
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

    def summary_due(self, call_id: str, body: str) -> int:
        """Remember (in the next commit) a webhook body to deliver; returns its key for `summary_delivered`."""
        key = self.next_n
        self.next_n += 1  # a row number of its own, so keys never repeat
        self._calls.append(("INSERT INTO summaries_due VALUES (?, ?, ?)", (key, call_id, body)))
        return key

    def summary_delivered(self, key: int) -> None:
        self._calls.append(("DELETE FROM summaries_due WHERE n = ?", (key,)))

    def summaries_due(self) -> list[tuple[int, str, str]]:
        """(key, call id, body) of every summary not delivered yet, oldest first."""
        return self.reads.execute("SELECT n, call_id, body FROM summaries_due ORDER BY n").fetchall()

    def commit(self) -> int:
        """Write every buffered row in one transaction; return how many rows were written."""
        return self.write(self.take()) if self.pending else 0

    def take(self) -> Batch:
        """Hand the buffered rows over for `write` (possibly in another thread); the buffer restarts."""
        batch = Batch(self._rows, self._calls)
        self._rows, self._calls = [], []
        return batch

    def write(self, batch: Batch) -> int:
        rows, calls = batch.rows, batch.calls
        db = self.db
        try:
            db.execute("BEGIN")
            done = 0
            for size in _INSERT_SIZES:  # a few statements of many rows each (~10 % less CPU per row than
                while len(rows) - done >= size:  # one executemany step per row, at 20-100 rows a transaction)
                    db.execute(_INSERT[size], [value for row in rows[done:done + size] for value in row])
                    done += size
            for sql, params in calls:
                db.execute(sql, params)
            db.execute("COMMIT")
        except Exception as exc:  # sqlite3.Error, and a row no encoder can write (UnicodeEncodeError, ...)
            if db.in_transaction:
                db.execute("ROLLBACK")  # never leave the transaction open: the next write must go through
            raise CallLogError(f"{self.path}: cannot write the call log ({type(exc).__name__}: "
                               f"{str(exc)[:200]})") from None
        return len(rows)

    def close(self) -> None:
        self.commit()
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.db.close()
        self.reads.close()

    # -- reads ------------------------------------------------------------------------------------------
    def open_calls(self) -> list[OpenCall]:
        """Calls that were open when the log was last written, with their inbound events."""
        calls = self.reads.execute("SELECT call_id, agent_id, first_n FROM calls WHERE ended_at IS NULL "
                                "ORDER BY first_n").fetchall()
        return [OpenCall(cid, agent, list(self._inbound(cid, first))) for cid, agent, first in calls]

    def _inbound(self, call_id: str, first_n: int) -> Iterator[dict[str, Any]]:
        for (body,) in self.reads.execute("SELECT body FROM rows WHERE call_id = ? AND n >= ? AND dir = 0 "
                                       "ORDER BY n", (call_id, first_n)):
            yield json.loads(body)

    def events(self, call_id: str, *, outbound: bool = False) -> list[dict[str, Any]]:
        """The inbound events (or outbound outputs) of the latest call under `call_id`, in order."""
        found = self.reads.execute("SELECT first_n FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        if found is None:
            raise CallLogError(f"{self.path}: no call '{call_id}' in the call log (expected the id of a "
                               "logged call, not purged)")
        rows = self.reads.execute("SELECT body FROM rows WHERE call_id = ? AND n >= ? AND dir = ? ORDER BY n",
                               (call_id, found[0], OUT if outbound else IN))
        return [json.loads(body) for (body,) in rows]

    def accepted(self, call_id: str) -> tuple[set[int], set[str]] | None:
        """The seqs and utterance ids accepted for an ended call (None: the log never saw it open
        and end). Lets a restarted server answer a resent event with a duplicate ack."""
        row = self.reads.execute("SELECT ended_at FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        seqs: set[int] = set()
        uids: set[str] = set()
        for seq, uid in self.reads.execute("SELECT seq, uid FROM rows WHERE call_id = ? AND dir = 0 AND "
                                        "(seq IS NOT NULL OR uid IS NOT NULL)", (call_id,)):
            if seq is not None:
                seqs.add(seq)
            if uid is not None:
                uids.add(uid)
        return seqs, uids

    def stats(self) -> dict[str, int]:
        calls, open_ = self.reads.execute("SELECT count(*), count(*) - count(ended_at) FROM calls").fetchone()
        rows = self.reads.execute("SELECT count(*) FROM rows").fetchone()[0]
        return {"calls": calls, "open_calls": open_, "rows": rows}


PURGE_CHUNK = 100  # calls per transaction: a running server's writer waits for one chunk at most


def purge(db: sqlite3.Connection, older_than_days: float, now: float | None = None) -> int:
    """Delete calls that ended more than `older_than_days` ago, with their rows, a chunk per transaction;
    open calls are never touched. Returns how many calls went."""
    cutoff = (time.time() if now is None else now) - older_than_days * 86_400
    gone = 0
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            ids = [r[0] for r in db.execute("SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND "
                                            "ended_at < ? LIMIT ?", (cutoff, PURGE_CHUNK))]
            db.executemany("DELETE FROM rows WHERE call_id = ?", ((i,) for i in ids))
            db.executemany("DELETE FROM calls WHERE call_id = ?", ((i,) for i in ids))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise CallLogError(f"cannot purge the call log ({exc})") from None
        gone += len(ids)
        if len(ids) < PURGE_CHUNK:
            return gone


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
        log.close()
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)


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
