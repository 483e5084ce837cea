"""What the browser tests share: the two servers behind the pages and builders for protocol messages.

- `ScriptedServer`: a small websockets server that serves assist/server/static as the real server does and
  sends the protocol messages a test scripts (docs/protocol.md), so each rendering rule is checked alone;
- `RealServer`: the project's own AssistServer on loopback, fed through /ingest as a CTI connector would.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "assist" / "server" / "static"
SHOTS = ROOT / "artifacts" / "screenshots"
RULES = ROOT / "rules" / "playbook" / "rules"
CHROMIUM = os.environ.get("ASSIST_CHROMIUM", "/usr/bin/chromium")
WAIT_MS = 5000  # every wait in these tests is bounded by this (or less)

AGENT_TOKEN = "agent-a7-token-0000"  # `assist serve` refuses tokens under 16 characters
AGENT2_TOKEN = "agent-a8-token-0000"
SUPERVISOR_TOKEN = "supervisor-token"
CTI_TOKEN = "cti-token-for-tests"


# -- a loop in a thread, shared by both servers ----------------------------------------------------
class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-server-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# -- the scripted server ------------------------------------------------------------------------------
class ScriptedServer:
    """Serves the static pages like the real server does and lets a test script the /agent and /supervisor
    streams: `state` is sent first on every connection, `push()` sends live messages, `feedback` collects what
    the page sent back, `drop()` closes every socket and `refuse` turns handshakes away (server down)."""

    def __init__(self, loop: LoopThread):
        self.loop = loop
        self.port = 0
        self.state: dict[str, dict[str, Any]] = {
            "agent": {"kind": "state", "agent_id": "a7", "calls": []},
            "supervisor": {"kind": "state", "calls": []},
        }
        self.refuse = False
        self.received: list[dict[str, Any]] = []
        self.connects = {"agent": 0, "supervisor": 0}
        self._sockets: dict[str, set[Any]] = {"agent": set(), "supervisor": set()}
        self._server: Any = None

    def start(self) -> ScriptedServer:
        self._server = self.loop.run(self._start())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _start(self) -> Any:
        from websockets.asyncio.server import serve

        return await serve(self._handle, "127.0.0.1", 0, process_request=self._process_request)

    def url(self, path: str = "/", token: str = AGENT_TOKEN) -> str:
        return f"http://127.0.0.1:{self.port}{path}?token={token}"

    def _process_request(self, connection: Any, request: Any) -> Any:
        from assist.server.http import http_route, respond

        split = urlsplit(request.path)
        role = {"/agent": "agent", "/supervisor": "supervisor"}.get(split.path)
        if role is None or request.headers.get("Upgrade", "").lower() != "websocket":
            return http_route(request, lambda: {"status": "ok"}, lambda: b"", STATIC)
        if self.refuse:
            return respond(HTTPStatus.SERVICE_UNAVAILABLE, "down for the test\n")
        token = parse_qs(split.query).get("token", [""])[0]
        if token != {"agent": AGENT_TOKEN, "supervisor": SUPERVISOR_TOKEN}[role]:
            return respond(HTTPStatus.FORBIDDEN, "invalid token\n")
        return None

    async def _handle(self, ws: Any) -> None:
        role = "agent" if urlsplit(ws.request.path).path == "/agent" else "supervisor"
        self.connects[role] += 1
        self._sockets[role].add(ws)
        try:
            await ws.send(json.dumps(self.state[role], ensure_ascii=False))
            async for message in ws:
                self.received.append(json.loads(message))
        except Exception:  # the page went away mid-test; nothing to report
            pass
        finally:
            self._sockets[role].discard(ws)

    def push(self, *messages: dict[str, Any], to: str = "agent") -> None:
        async def send() -> None:
            for ws in list(self._sockets[to]):
                for msg in messages:
                    await ws.send(json.dumps(msg, ensure_ascii=False))

        self.loop.run(send())

    def wait_connected(self, to: str = "agent", count: int = 1, timeout: float = WAIT_MS / 1000) -> None:
        deadline = time.monotonic() + timeout
        while len(self._sockets[to]) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} {to} socket(s), have {len(self._sockets[to])}")
            time.sleep(0.02)

    def wait_received(self, predicate: Callable[[dict[str, Any]], bool],
                      timeout: float = WAIT_MS / 1000) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in list(self.received):
                if predicate(msg):
                    return msg
            time.sleep(0.02)
        raise AssertionError(f"the page sent nothing matching; it sent {self.received}")

    def drop(self) -> None:
        async def close() -> None:
            for sockets in self._sockets.values():
                for ws in list(sockets):
                    await ws.close(1012, "restart")

        self.loop.run(close())

    def stop(self) -> None:
        async def shut() -> None:
            self._server.close()
            await self._server.wait_closed()

        self.loop.run(shut())


# -- the real server --------------------------------------------------------------------------------
class RealServer:
    """assist.server.app.AssistServer on 127.0.0.1 (port 0) in a background loop, with test tokens."""

    def __init__(self, loop: LoopThread):
        from assist.server.app import AssistServer
        from assist.server.config import ServerConfig, Tokens

        tokens = Tokens(cti=CTI_TOKEN, supervisor=SUPERVISOR_TOKEN,
                        agents={"a7": AGENT_TOKEN, "a8": AGENT2_TOKEN})
        self.loop = loop
        self.app = AssistServer(ServerConfig(host="127.0.0.1", port=0, tokens=tokens))
        self.seq = 0

    def url(self, path: str = "/", token: str = AGENT_TOKEN) -> str:
        return str(self.app.url(path, token))

    def ingest(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        """Send events to /ingest one by one as the CTI side would; return the acks (errors fail the test)."""
        from websockets.asyncio.client import connect

        async def send() -> list[dict[str, Any]]:
            replies = []
            async with connect(self.app.url("/ingest", CTI_TOKEN, scheme="ws")) as ws:
                for event in events:
                    self.seq += 1
                    await ws.send(json.dumps({**event, "seq": self.seq}, ensure_ascii=False))
                    replies.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            return replies

        replies: list[dict[str, Any]] = self.loop.run(send())
        refused = [r for r in replies if r.get("type") != "ack"]
        assert not refused, f"/ingest refused events: {refused}"
        return replies


# -- protocol messages ------------------------------------------------------------------------------
def prompt(pid: str, say: str, severity: str = "warn", call_id: str = "c1", t_ms: int = 8000,
           why: str = "because", rule: str = "some-rule", **extra: Any) -> dict[str, Any]:
    return {"kind": "prompt", "call_id": call_id, "t_ms": t_ms, "id": pid, "rule": rule, "severity": severity,
            "say": say, "why": why, "evidence": [{"speaker": "customer", "text": "heard this", "t_ms": t_ms}],
            **extra}


def view(call_id: str = "c1", lang: str = "en", prompts: list[dict[str, Any]] | None = None,
         classification: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"call_id": call_id, "agent_id": "a7", "lang": lang, "t_ms": 9000,
            "top": classification["top"] if classification else None,
            "types": classification["types"] if classification else {},
            "classification": classification, "prompts": prompts or []}


def angry(call_id: str = "c1") -> dict[str, Any]:
    return {"kind": "classification", "call_id": call_id, "t_ms": 4000, "types": {"angry": 0.75},
            "top": "angry", "evidence": [{"speaker": "customer", "t_ms": 4000,
                                          "text": "This is ridiculous, I've been waiting two weeks!"}]}


def say(rule: str, lang: str) -> str:
    """The rule's `say` text, read from the real pack so the test follows the playbook."""
    return str(yaml.safe_load((RULES / f"{rule}.yaml").read_text(encoding="utf-8"))["say"][lang])


def call(call_id: str, agent_id: str, lang: str, *turns: tuple[str, str],
         turn_ms: int = 4000) -> list[dict[str, Any]]:
    """call.start, then one final utterance per (speaker, text), `turn_ms` apart."""
    events: list[dict[str, Any]] = [{"type": "call.start", "call_id": call_id, "agent_id": agent_id,
                                     "lang": lang, "t_ms": 0}]
    for i, (speaker, text) in enumerate(turns):
        events.append({"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                       "start_ms": i * turn_ms, "end_ms": (i + 1) * turn_ms, "final": True})
    return events


def go_offline(page: Any, scripted: ScriptedServer, shot: Callable[[Any, str], None]) -> None:
    """Drop the page's socket and refuse reconnects; the page must say it is offline and reconnecting."""
    from playwright.sync_api import expect

    scripted.refuse = True
    scripted.drop()
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute("data-state", "offline")
    expect(status).to_contain_text("reconnecting")
    shot(page, "offline")
