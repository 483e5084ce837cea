"""Helpers for the scale-out tests: workloads, expected prompts, reading what the workers published."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from replaykit import PromptKey, Script, scripted_calls
from replaykit import expected_prompts as expected_prompts  # re-exported for the scale-out tests
from replaykit import rules as rules  # re-exported for the scale-out tests

from assist.scale.keys import Keys, event_entry

T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 40.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def scripts(calls: int, turns: int, prefix: str = "s", agents: int = 10) -> dict[str, Script]:
    """Each call's events in order, seq 1..n, agents a0..a{agents-1}."""
    return scripted_calls(calls, turns, prefix, agents)


async def push(client: aioredis.Redis, keys: Keys, events: Script) -> None:
    """Append events to their partitions' streams, as a gateway does."""
    pipe = client.pipeline(transaction=False)
    for ev in events:
        pipe.xadd(keys.inbound(keys.partition(ev["call_id"])),
                  event_entry(ev["call_id"], json.dumps(ev, ensure_ascii=False)))  # type: ignore[arg-type]
    await pipe.execute()


async def published(client: aioredis.Redis, keys: Keys) -> list[dict[str, Any]]:
    """Every message in the output stream, decoded, in order."""
    entries = await client.xrange(keys.outputs, "-", "+")
    return [json.loads(fields["m"]) for _, fields in entries]


def prompts_of(messages: list[dict[str, Any]]) -> dict[str, list[PromptKey]]:
    out: dict[str, list[PromptKey]] = {}
    for m in messages:
        if m.get("kind") == "prompt":
            out.setdefault(m["call_id"], []).append((m["id"], m["rule"], m["t_ms"], m["say"]))
    return out


async def until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.05)


TOKENS = {"cti": "cti-secret", "supervisor": "sup-secret", "agents": {f"a{i}": f"tok-a{i}" for i in range(10)}}


def gateway_config(**extra: Any) -> Any:
    from assist.server.config import Limits, ServerConfig, Tokens

    return ServerConfig(port=0, tokens=Tokens(**TOKENS), limits=Limits(max_events_per_s=100_000),
                        **extra)


class Sidebar:
    """A real websocket sidebar (or supervisor, agent_id None) recording every message it gets."""

    def __init__(self, url: str, agent_id: str | None):
        from websockets.asyncio.client import connect

        token = TOKENS["supervisor"] if agent_id is None else TOKENS["agents"][agent_id]  # type: ignore[index]
        path = "/supervisor" if agent_id is None else "/agent"
        self.connect = connect(f"{url}{path}?token={token}")
        self.messages: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None
        self.ws: Any = None

    async def __aenter__(self) -> Sidebar:
        self.ws = await self.connect
        self.task = asyncio.create_task(self._read())
        await until(self._has_state, 10, "the state message")
        return self

    async def _has_state(self) -> bool:
        return bool(self.messages)

    async def _read(self) -> None:
        async for raw in self.ws:
            self.messages.append(json.loads(raw))

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        if self.task is not None:
            self.task.cancel()

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("kind") == kind]


async def http_status(port: int, path: str) -> int:
    """The status of a plain GET on loopback (an /ingest upgrade request for /ingest)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if path == "/ingest":
        lines += ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                  "Sec-WebSocket-Version: 13", f"Authorization: Bearer {TOKENS['cti']}"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n")
    writer.close()
    return int(head.split()[1])
