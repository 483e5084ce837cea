"""Group commit for the call log: acks wait for one transaction that carries every row buffered since
the last one.

    commits = GroupCommit(log)
    mark = commits.mark()             # everything buffered up to now
    await commits.durable(mark)       # ... is committed: the ack may go out

Measured under the live bench (call log on) with a transaction per event-loop turn: ~250-500
transactions a second of 4-17 rows at 1,000-3,000 calls, 120-210 us of loop CPU each (BEGIN, the
rows, the WAL frames of the commit), 25-45 us per event. Under load transactions now come at most
every `every_s`: half as many or fewer, bigger ones (acks wait up to that long; prompts never wait for
the log). The transaction is written on the loop: a writer thread was measured too (SQLite releases
the GIL while it works), and it made things worse under load - the thread waits up to the switch
interval (5 ms) for the GIL after each statement, so a transaction took tens of ms, and the acks it
held then went out in bursts that stalled the loop.
"""

from __future__ import annotations

import asyncio

from assist.server.calllog import CallLog, CallLogError

COMMIT_EVERY_S = 0.005  # under load, at most one transaction per this many seconds


class GroupCommit:
    """`await commits.durable(mark)` returns once everything buffered before `mark` is committed.
    Ingest keeps reading while its acks wait (app._send_acks), so under load a transaction carries the
    events of many messages and connections. A quiet log starts its transaction at the end of the
    event-loop turn that asked; one that started a transaction less than `every_s` ago waits until then."""

    def __init__(self, log: CallLog, every_s: float = COMMIT_EVERY_S):
        self.log = log
        self.every_s = every_s
        self._last = float("-inf")  # loop time the last transaction started
        self._writing: asyncio.Future[int] | None = None
        self._written = 0     # buffered items committed so far
        self._buffered = 0    # counter of everything ever buffered, sampled at each take
        self._target = 0      # ... up to which the transaction in flight reaches
        self.commits = 0
        self.failure: str | None = None  # why the last transaction failed; None once one succeeds

    def mark(self) -> int:
        """A position in the log: everything buffered up to now."""
        return self._buffered + self.log.pending

    async def durable(self, mark: int | None = None) -> None:
        """Return once everything buffered before `mark` (default: now) is committed."""
        mine = self.mark() if mark is None else mark
        while self._written < mine:
            if self._writing is None:
                self._start()
            writing = self._writing
            assert writing is not None
            try:
                await asyncio.shield(writing)  # a done future returns at once: settle it here, not in a callback
            finally:
                if self._writing is writing and writing.done():
                    self._writing = None
                    if not writing.cancelled() and writing.exception() is None:
                        self._written = self._target  # one transaction in flight at a time
                        self.commits += 1

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._writing = loop.create_future()
        wait = self._last + self.every_s - loop.time()
        if wait > 0:
            loop.call_later(wait, self._write, self._writing)
        else:
            loop.call_soon(self._write, self._writing)

    def _write(self, done: asyncio.Future[int]) -> None:
        """On the loop: take everything buffered until now into one transaction and start it."""
        loop = asyncio.get_running_loop()
        batch = self.log.take()
        self._buffered += len(batch.rows) + len(batch.calls)
        self._target = self._buffered
        self._last = loop.time()
        try:
            self._settle(done, self.log.write(batch))
        except Exception as exc:  # a callback that raised would leave the future pending for ever
            self._settle(done, exc)

    def _settle(self, done: asyncio.Future[int], outcome: int | BaseException) -> None:
        if done.done():
            return
        if isinstance(outcome, BaseException):
            self.failure = str(outcome)
            done.set_exception(outcome if isinstance(outcome, CallLogError) else CallLogError(str(outcome)))
        else:
            self.failure = None
            done.set_result(outcome)
