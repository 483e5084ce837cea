"""The two things the websocket edge (server/app.py) is built on, so that the same handlers serve
`assist serve` (the hub and the SQLite group commit) and `assist gateway` (Redis, assist/scale)."""

from __future__ import annotations

from typing import Any, Protocol

from assist.server.outbox import Outbox


class Router(Protocol):
    """What the websocket edge needs from the side that applies events and feeds sockets: the hub
    here, a Redis gateway in scale-out mode (assist/scale/gateway.py)."""

    def ingest(self, obj: Any, stamp: float | None = None, raw: str | None = None) -> dict[str, Any]: ...
    def new_outbox(self) -> Outbox: ...
    def join_agent(self, agent_id: str, box: Outbox) -> None: ...
    def join_supervisor(self, box: Outbox) -> None: ...
    def leave(self, box: Outbox, agent_id: str | None = None) -> None: ...


class Durability(Protocol):
    """Acks wait on this: the call log's group commit here, the Redis stream writer in a gateway.
    `durable` raises CallLogError when the write failed (the client resends after reconnecting)."""

    failure: str | None

    def mark(self) -> int: ...
    async def durable(self, mark: int | None = None) -> None: ...
