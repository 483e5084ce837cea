"""`assist demo`: the server with the bundled rules, fed a bundled example call at real speed."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from assist.bundle import DEFAULT_CALL
from assist.client import IngestClient
from assist.core.compiled import CompiledRules
from assist.core.events import AnyEvent, event_time, parse_event
from assist.core.outputs import Evidence, Expired, Output, Prompt, Resolved
from assist.errors import FormatError
from assist.server.app import AssistServer
from assist.server.config import ServerConfig, Tokens
from assist.timeline import Timeline

MAX_PAUSE_MS = 10_000  # a long silence in the recording never stalls the demo for longer
LOOP_GAP_S = 3.0


def read_events(path: Path) -> list[dict[str, Any]]:
    """The native JSON Lines events of `path`, each checked; raise FormatError naming the line."""
    events: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FormatError(f"cannot read ({exc.strerror})", where=str(path)) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            parse_event(obj, f"{path}:{n}")
        except json.JSONDecodeError as exc:
            raise FormatError(f"expected a JSON object, got invalid JSON ({exc})", where=f"{path}:{n}") from None
        except Exception as exc:
            raise FormatError(str(exc)) from None
        events.append(obj)
    if not events:
        raise FormatError("no events", where=str(path))
    return events


def renamed(events: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    """The same call under fresh call ids, so a loop never repeats an ended call's id and seqs."""
    return [{**e, "call_id": f"{e['call_id']}{suffix}"} for e in events]


async def stream(url: str, token: str, events: list[dict[str, Any]], speed: float,
                 on_reply: Callable[[dict[str, Any]], None] | None = None,
                 on_send: Callable[[AnyEvent], None] | None = None) -> int:
    """Send `events` to /ingest at their own pace (÷ speed) through an IngestClient (which reconnects and
    resends if the link drops); `on_send` sees each event as it goes. Return how many were refused."""
    def answered(reply: dict[str, Any], event: dict[str, Any]) -> None:
        if on_reply is not None:
            on_reply(reply)

    async with IngestClient(url, token, on_reply=answered) as client:
        previous: int | None = None
        for event in events:
            parsed = parse_event(event)
            t = event_time(parsed)
            if previous is not None and t > previous and speed > 0:
                await asyncio.sleep(min(t - previous, MAX_PAUSE_MS) / 1000 / speed)
            previous = t if previous is None else max(previous, t)
            if on_send is not None:
                on_send(parsed)
            await client.send(event)
    return len(client.errors)


def _prompts_raised(server: AssistServer) -> float:
    return server.metrics.registry.get_sample_value("assist_prompts_out_total") or 0.0


async def _drained(server: AssistServer, timeout: float) -> None:
    """Wait (bounded) until every sidebar and supervisor queue is empty."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        boxes = [b for group in server.hub.agents.values() for b in group] + list(server.hub.supervisors)
        if all(len(b) == 0 for b in boxes):
            return
        await asyncio.sleep(0.05)


async def run_demo(path: Path = DEFAULT_CALL, *, host: str | None = None, port: int | None = None,
                   speed: float = 1.0, once: bool = False, print_: Callable[[str], None] = print,
                   rules: CompiledRules | None = None) -> int:
    """Serve, print the URLs, stream the call (again and again unless `once`); return refused events.
    `host` / `port` default to the server's settings (ServerConfig, ASSIST_HOST / ASSIST_PORT)."""
    events = read_events(path)
    starts = [e for e in events if e.get("type") == "call.start" and e.get("agent_id")]
    agents = sorted({str(e["agent_id"]) for e in starts})
    tokens = Tokens(cti=secrets.token_urlsafe(16), supervisor=secrets.token_urlsafe(16),
                    agents={a: secrets.token_urlsafe(16) for a in agents})
    config = ServerConfig(tokens=tokens)
    config.host = config.host if host is None else host  # validated on assignment
    config.port = config.port if port is None else port
    async with AssistServer(config, rules) as server:
        for agent_id, token in tokens.agents.items():
            print_(f"sidebar for agent {agent_id}:  {server.url('/', token)}")
        print_(f"supervisor view:       {server.url('/supervisor', tokens.supervisor)}")
        print_(f"streaming {path.name} at {speed:g}x" + ("" if once else " (looping; Ctrl-C stops)"))
        print_("Open an address in a browser (most terminals open it on Ctrl-click): the sidebar shows the")
        print_("agent's prompts as they come, the supervisor view every call. The call also plays below.")
        ingest = server.url("/ingest", scheme="wss" if config.certfile else "ws")
        timeline = Timeline(out=None if print_ is print else _Lines(print_))
        shown: Counter[str] = Counter()
        watchers = [asyncio.create_task(_watch(server.url("/agent", scheme="wss" if config.certfile else "ws"),
                                               token, timeline, shown)) for token in tokens.agents.values()]
        refused = 0
        try:
            for n in range(1 if once else 1_000_000):
                before = _prompts_raised(server)
                refused += await stream(ingest, tokens.cti, renamed(events, f"-{n + 1}"), speed,
                                        on_send=timeline.event)
                await _drained(server, 5.0)
                raised = int(_prompts_raised(server) - before)
                await _shown(shown, int(before) + raised, 2.0)
                print_(f"call {n + 1}: {len(events)} events streamed, {raised} prompt(s) raised")
                if not once:
                    await asyncio.sleep(LOOP_GAP_S)
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        return refused


class _Lines(io.StringIO):
    """A text stream handing each complete line to a print function (the demo's output)."""

    def __init__(self, print_: Callable[[str], None]):
        super().__init__()
        self.print_ = print_
        self.pending = ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self.print_(line)
        return len(text)


def _output(msg: dict[str, Any]) -> Output | None:
    """A sidebar message back as the engine output it was (prompt, resolved, expired); None for the rest."""
    kind = msg.get("kind")
    if kind == "prompt":
        return Prompt(call_id=msg["call_id"], t_ms=msg["t_ms"], id=msg["id"], rule=msg["rule"],
                      severity=msg["severity"], say=msg["say"], why=msg["why"], evidence=(),
                      supervisor=bool(msg.get("supervisor")))
    if kind == "resolved":
        by = msg["by"]
        return Resolved(call_id=msg["call_id"], t_ms=msg["t_ms"], id=msg["id"], rule=msg["rule"],
                        by=Evidence(by["speaker"], by["text"], by["t_ms"]))
    if kind == "expired":
        return Expired(call_id=msg["call_id"], t_ms=msg["t_ms"], id=msg["id"], rule=msg["rule"],
                       reason=msg["reason"])
    return None


async def _watch(url: str, token: str, timeline: Timeline, shown: Counter[str]) -> None:
    """Print what one agent's sidebar receives, as it arrives, until cancelled."""
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        async for raw in ws:
            out = _output(json.loads(raw))
            if out is not None:
                timeline.output(out)
                shown[out.kind] += 1


async def _shown(shown: Counter[str], prompts: int, timeout: float) -> None:
    """Wait (bounded) until the sidebars have printed `prompts` prompts in all."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while shown["prompt"] < prompts and loop.time() < deadline:
        await asyncio.sleep(0.02)
