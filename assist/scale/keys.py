"""Where things live in Redis, and which partition a call belongs to. Pure: no I/O.

    keys = Keys("assist", partitions=64)
    p = keys.partition("call-42")        # the same number in every process, on every machine
    keys.inbound(p)                      # 'assist:in:17', the partition's stream of inbound entries
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def partition_of(call_id: str, partitions: int) -> int:
    """A stable hash of the call id onto 0..partitions-1 (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(call_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def parse_id(entry_id: str) -> tuple[int, int]:
    """A stream entry id 'ms-seq' as a comparable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def next_id(entry_id: str) -> str:
    """The smallest id after `entry_id` (XTRIM MINID keeps ids >= it)."""
    ms, seq = parse_id(entry_id)
    return f"{ms}-{seq + 1}"


def event_entry(call_id: str, body: str) -> dict[str, str]:
    """The fields of an inbound event's stream entry (`body` is the event as JSON)."""
    return {"k": "e", "c": call_id, "e": body}


def feedback_entry(call_id: str, agent_id: str, box: str, body: str) -> dict[str, str]:
    """A sidebar's feedback on a prompt of `call_id`; `box` names the socket that gets the answer."""
    return {"k": "f", "c": call_id, "a": agent_id, "to": box, "f": body}


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "assist"
    partitions: int = 64

    def partition(self, call_id: str) -> int:
        return partition_of(call_id, self.partitions)

    def inbound(self, p: int) -> str:
        """Stream of the partition's inbound entries: events, feedback and ticks, in order."""
        return f"{self.prefix}:in:{p}"

    def checkpoint(self, p: int) -> str:
        """The id of the last inbound entry whose outputs are published."""
        return f"{self.prefix}:ckpt:{p}"

    def lease(self, p: int) -> str:
        """The id of the worker that owns the partition; expires unless renewed."""
        return f"{self.prefix}:lease:{p}"

    def views(self, p: int) -> str:
        """Hash call id → the call's view (what a joining sidebar draws), open calls of the partition."""
        return f"{self.prefix}:views:{p}"

    def agent_views(self, agent_id: str) -> str:
        """Hash call id → view, the agent's open calls."""
        return f"{self.prefix}:aviews:{agent_id}"

    def call_log(self, call_id: str) -> str:
        """List of the call's accepted inbound events (the durable record `assist export` reads)."""
        return f"{self.prefix}:log:{call_id}"

    @property
    def outputs(self) -> str:
        """Stream of every output, `call` and feedback message for sidebars and supervisors."""
        return f"{self.prefix}:out"

    @property
    def workers(self) -> str:
        """Sorted set worker id → last heartbeat (ms)."""
        return f"{self.prefix}:workers"

    @property
    def settings(self) -> str:
        """Hash of settings every process must agree on (the partition count)."""
        return f"{self.prefix}:settings"
