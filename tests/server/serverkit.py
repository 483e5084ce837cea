"""Helpers for server tests: a real server on 127.0.0.1 with an ephemeral port, real websockets clients.

Tests are plain sync functions that call `run(coro)`, which bounds each one in time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from replaykit import rules as rules  # re-exported: the server tests take it from here
from websockets.asyncio.client import ClientConnection, connect

from assist.server.app import AssistServer
from assist.server.config import Limits, ServerConfig, Tokens

T = TypeVar("T")
TOKENS = Tokens(cti="cti-secret", supervisor="sup-secret",
                agents={"a7": "tok-a7", "a8": "tok-a8", "a9": "tok-a9"})
ANGRY = "This is ridiculous, I've waited two weeks!"
SORRY = "I'm sorry, can I have your order number?"


def run(coro: Awaitable[T], timeout: float = 20.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@asynccontextmanager
async def server(**limits: Any) -> AsyncIterator[AssistServer]:
    top_level = ("idle_timeout_s", "tick_interval_s", "allowed_origins")
    extra = {k: limits.pop(k) for k in top_level if k in limits}
    config = ServerConfig(port=0, tokens=TOKENS, limits=Limits(**limits), **extra)
    async with AssistServer(config, rules()) as srv:
        yield srv


def ws_url(srv: AssistServer, path: str, token: str | None = None) -> str:
    return srv.url(path, token, scheme="ws")


async def ingest(srv: AssistServer, **kw: Any) -> ClientConnection:
    headers = {"Authorization": "Bearer cti-secret"}
    return await connect(ws_url(srv, "/ingest"), additional_headers=headers, **kw)


async def agent(srv: AssistServer, agent_id: str) -> ClientConnection:
    """A sidebar for `agent_id`, its first (state) message already read and checked."""
    ws = await connect(ws_url(srv, "/agent", f"tok-{agent_id}"))
    first = await recv(ws)
    assert first["kind"] == "state" and first["agent_id"] == agent_id
    return ws


async def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return msg


async def recv_until(ws: ClientConnection, pred: Callable[[dict[str, Any]], bool],
                     timeout: float = 5.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read until a message satisfies `pred`; return it and everything read before it."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            msg = await recv(ws, timeout)
            if pred(msg):
                return msg, seen
            seen.append(msg)


async def send(ws: ClientConnection, obj: Any) -> dict[str, Any]:
    """Send one event and return the server's answer to it."""
    await ws.send(json.dumps(obj))
    return await recv(ws)


def start(call_id: str, agent_id: str | None = "a7", seq: int | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": "call.start", "call_id": call_id, "lang": "en", "t_ms": 0,
                          "agent_id": agent_id}
    if seq is not None:
        ev["seq"] = seq
    return ev


def say(call_id: str, speaker: str, text: str, end_ms: int, seq: int | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                          "start_ms": max(0, end_ms - 2000), "end_ms": end_ms}
    if seq is not None:
        ev["seq"] = seq
    return ev


def end(call_id: str, t_ms: int, seq: int | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": "call.end", "call_id": call_id, "t_ms": t_ms}
    if seq is not None:
        ev["seq"] = seq
    return ev


async def feedback(ws: ClientConnection, prompt_id: str, action: str) -> None:
    await ws.send(json.dumps({"type": "feedback", "id": prompt_id, "action": action}))


async def raise_prompts(cti: ClientConnection, call_id: str, t0: int = 0) -> None:
    """Customer upset, agent apologises and asks for the order number: prompts fire."""
    assert (await send(cti, say(call_id, "customer", ANGRY, t0 + 3000)))["type"] == "ack"
    assert (await send(cti, say(call_id, "agent", SORRY, t0 + 5000)))["type"] == "ack"


async def http_get(srv: AssistServer, path: str, headers: dict[str, str] | None = None
                   ) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP/1.1 GET on loopback; returns status, headers (lower-case names) and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{srv.port}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), hdrs, body
