"""The call summary webhook against a real HTTP server on loopback: signed, retried, never in the way
of ingest, and kept in the call log across a restart until delivered."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from serverkit import TOKENS, ingest, raise_prompts, rules, run, send, start
from serverproc import free_port

from assist.server.app import AssistServer
from assist.server.config import CallLogSettings, ServerConfig, SummaryWebhookSettings

SECRET = "whsec-test"


class Receiver:
    """What the endpoint got; it answers `fail_first` requests with 500 before accepting."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.got = threading.Event()


@contextmanager
def endpoint(receiver: Receiver, port: int = 0) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            ok = len(receiver.requests) > receiver.fail_first
            self.send_response(204 if ok else 500)
            self.end_headers()
            if ok:
                receiver.got.set()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hooks/assist"
    finally:
        httpd.shutdown()
        httpd.server_close()


def config(url: str, log: Path | None = None) -> ServerConfig:
    return ServerConfig(port=0, tokens=TOKENS, tick_interval_s=3600,
                        log=CallLogSettings(path=str(log) if log else None),
                        summary_webhook=SummaryWebhookSettings(url=url, secret=SECRET))


def verified(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    parts = dict(p.split("=", 1) for p in headers["x-assist-signature"].split(","))
    want = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], want), "signature does not verify"
    payload: dict[str, Any] = json.loads(body)
    return payload


async def one_call(srv: AssistServer, call_id: str) -> None:
    cti = await ingest(srv)
    assert (await send(cti, start(call_id)))["type"] == "ack"
    await raise_prompts(cti, call_id)
    assert (await send(cti, {"type": "call.end", "call_id": call_id, "t_ms": 9000}))["type"] == "ack"
    await cti.close()


async def wait_for(event: threading.Event, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not event.is_set():
            await asyncio.sleep(0.02)


def test_a_call_ending_posts_its_signed_summary_and_a_refusal_is_retried() -> None:
    receiver = Receiver(fail_first=2)

    async def go() -> None:
        with endpoint(receiver) as url:
            async with AssistServer(config(url), rules()) as srv:
                assert srv.webhook is not None
                srv.webhook.first_retry_s = 0.05
                await one_call(srv, "c1")
                await wait_for(receiver.got)

    run(go())
    assert len(receiver.requests) == 3  # two 500s, then delivered
    keys = {h["x-assist-delivery"] for h, _ in receiver.requests}
    assert len(keys) == 1  # one summary: the same delivery id on every attempt
    headers, body = receiver.requests[-1]
    payload = verified(headers, body)
    assert payload["event"] == "call.summary" and payload["call_id"] == "c1" and payload["agent_id"] == "a7"
    summary = payload["summary"]
    assert summary["kind"] == "summary" and summary["prompts"].get("acknowledge-before-apology") == 1
    assert set(summary) >= {"types", "top", "prompts", "resolved", "checklist", "feedback"}


def test_a_summary_not_delivered_before_a_restart_is_delivered_after_it(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    port = free_port()  # nothing listens here yet: the endpoint is down
    receiver = Receiver()

    async def go() -> None:
        async with AssistServer(config(f"http://127.0.0.1:{port}/hooks/assist", db), rules()) as srv:
            assert srv.webhook is not None
            srv.webhook.first_retry_s = 0.05
            await one_call(srv, "c2")
            async with asyncio.timeout(10):
                while srv.webhook.failed_attempts < 2:  # tried and failed: it is still due
                    await asyncio.sleep(0.02)
        with endpoint(receiver, port) as url:
            async with AssistServer(config(url, db), rules()):
                await wait_for(receiver.got)

    run(go(), timeout=40)
    assert len(receiver.requests) == 1
    assert verified(*receiver.requests[0])["call_id"] == "c2"
