"""Browser tests: the real Chromium (Debian's, driven by Playwright) against the sidebar and supervisor pages.

Two servers back the pages:
- `scripted`: a small websockets server that serves assist/server/static and sends the protocol messages a
  test scripts (docs/protocol.md), so each rendering rule can be checked in isolation;
- `real`: the project's own AssistServer on loopback, fed through /ingest like a CTI connector would.

Chromium missing is a failure, not a skip, unless ASSIST_SKIP_BROWSER=1.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "assist" / "server" / "static"
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("ASSIST_CHROMIUM", "/usr/bin/chromium")
WAIT_MS = 5000  # every wait in these tests is bounded by this (or less)

AGENT_TOKEN = "agent-a7-token"
AGENT2_TOKEN = "agent-a8-token"
SUPERVISOR_TOKEN = "supervisor-token"
CTI_TOKEN = "cti-token"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ASSIST_SKIP_BROWSER") == "1":
        skip = pytest.mark.skip(reason="ASSIST_SKIP_BROWSER=1: browser tests not run")
        for item in items:
            if "tests/browser/" in item.nodeid.replace(os.sep, "/"):
                item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


# -- browser ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it (apt-get install -y chromium "
                    "fonts-noto-cjk), point ASSIST_CHROMIUM at it, or set ASSIST_SKIP_BROWSER=1 to skip "
                    "the browser tests",
                    pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"the playwright package is missing ({exc}): pip install -e '.[test]', "
                    "or set ASSIST_SKIP_BROWSER=1", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True, timeout=30_000)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh sidebar-sized page that refuses any request off loopback (the pages must be self-contained)
    and fails the test on any JavaScript error."""
    context = browser.new_context(viewport={"width": 420, "height": 820}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    offsite: list[str] = []

    def guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors
    yield pg
    if request.node.stash.get(_FAILED, False):
        SHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SHOTS / f"{request.node.name}-failed.png"), full_page=True)
    context.close()
    assert not offsite, f"the page tried to load off-host resources: {offsite}"
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """shot(page) → artifacts/screenshots/<test name>.png; shot(page, "step") → <test name>-step.png."""

    def take(pg: Any, step: str = "") -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / (f"{request.node.name}-{step}.png" if step else f"{request.node.name}.png")
        pg.screenshot(path=str(path), full_page=True)
        return path

    return take


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


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    loop = LoopThread()
    server = ScriptedServer(loop).start()
    yield server
    server.stop()
    loop.stop()


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


@pytest.fixture
def real() -> Iterator[RealServer]:
    loop = LoopThread()
    server = RealServer(loop)
    loop.run(server.app.start(), timeout=60)
    yield server
    loop.run(server.app.stop(), timeout=30)
    loop.stop()

