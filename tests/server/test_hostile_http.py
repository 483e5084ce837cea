"""The handshake and HTTP side under attack (issue 12, findings 7, 9 and 10): repeated headers,
DNS rebinding, open /metrics, missing page headers, tokens left in URLs, short tokens."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys

from serverkit import ingest, recv, run, send, server, start, ws_url
from websockets.asyncio.client import connect

from assist.server.app import AssistServer
from assist.server.config import Tokens


async def raw_get(srv: AssistServer, path: str, headers: list[tuple[str, str]]
                  ) -> tuple[int, dict[str, str], bytes]:
    """A GET with exactly these headers (repeats allowed); status, headers (lower-case), body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    hdrs: dict[str, str] = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        name = k.strip().lower()
        hdrs[name] = hdrs[name] + "\n" + v.strip() if name in hdrs else v.strip()  # repeats one per line
    return int(status_line.split()[1]), hdrs, body


def host(srv: AssistServer) -> tuple[str, str]:
    return ("Host", f"127.0.0.1:{srv.port}")


UPGRADE = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
           ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]


def test_repeated_host_origin_or_authorization_headers_are_refused_with_400() -> None:
    async def scenario() -> None:
        async with server() as srv:
            h = host(srv)
            status, _, body = await raw_get(srv, "/healthz", [h, h])
            assert status == 400 and b"Host" in body
            status, _, body = await raw_get(srv, "/ingest", [h, *UPGRADE, ("Authorization", "Bearer cti-secret"),
                                                             ("Authorization", "Bearer x")])
            assert status == 400 and b"Authorization" in body
            status, _, _ = await raw_get(srv, "/agent?token=tok-a7", [h, *UPGRADE, ("Origin", "http://a"),
                                                                      ("Origin", "http://b")])
            assert status == 400
            cti = await ingest(srv)  # the server is fine
            assert (await send(cti, start("h1")))["type"] == "ack"

    run(scenario())


def test_hosts_outside_the_allow_list_are_refused_so_dns_rebinding_reaches_nothing() -> None:
    async def scenario() -> None:
        async with server() as srv:
            evil = ("Host", f"rebind.attacker.example:{srv.port}")
            for path in ("/", "/healthz", "/metrics", "/static/live.js"):
                status, _, _ = await raw_get(srv, path, [evil])
                assert status == 421, path
            status, _, _ = await raw_get(srv, "/supervisor?token=sup-secret",
                                         [evil, *UPGRADE, ("Origin", f"http://rebind.attacker.example:{srv.port}")])
            assert status == 421
            for name in ("127.0.0.1", "localhost"):
                status, _, _ = await raw_get(srv, "/healthz", [("Host", f"{name}:{srv.port}")])
                assert status == 200, name

    run(scenario())


def test_metrics_need_a_token_healthz_tells_strangers_only_the_status_and_no_versions_are_sent() -> None:
    async def scenario() -> None:
        async with server() as srv:
            status, headers, _ = await raw_get(srv, "/metrics", [host(srv)])
            assert status == 401
            status, headers, body = await raw_get(srv, "/metrics", [host(srv), ("Authorization", "Bearer sup-secret")])
            assert status == 200 and b"assist_events_in_total" in body
            status, headers, body = await raw_get(srv, "/healthz", [host(srv)])
            assert status == 200 and json.loads(body) == {"status": "ok"}
            status, headers, body = await raw_get(srv, "/healthz", [host(srv), ("Authorization", "Bearer sup-secret")])
            assert json.loads(body)["connections"] == {"cti": 0, "agent": 0, "supervisor": 0}
            for path in ("/", "/healthz", "/nowhere"):
                _, headers, _ = await raw_get(srv, path, [host(srv)])
                assert not re.search(r"\d", headers.get("server", "")), headers.get("server")
            async with connect(ws_url(srv, "/supervisor", "sup-secret")) as ws:
                assert not re.search(r"\d", ws.response.headers.get("Server", ""))

    run(scenario())


def test_pages_send_csp_frame_ancestors_and_referrer_policy() -> None:
    async def scenario() -> None:
        async with server() as srv:
            for path in ("/", "/supervisor"):
                status, headers, _ = await raw_get(srv, path, [host(srv)])
                assert status == 200
                csp = headers["content-security-policy"]
                assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
                assert headers["referrer-policy"] == "no-referrer"
                assert headers["x-frame-options"] == "DENY"

    run(scenario())


def test_a_token_in_the_url_is_exchanged_for_a_session_cookie_and_dropped_from_the_url() -> None:
    async def scenario() -> None:
        async with server() as srv:
            status, headers, _ = await raw_get(srv, "/?token=tok-a7", [host(srv)])
            assert status == 303 and headers["location"] == "/"
            cookies = headers["set-cookie"].split("\n")
            cookie = next(c for c in cookies if c.startswith("assist_agent="))
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/agent" in cookie
            assert "tok-a7" not in headers["set-cookie"]
            assert any(c.startswith("assist_agent_session=1") for c in cookies)  # what the page's script sees
            ticket = cookie.split(";")[0]
            status, _, _ = await raw_get(srv, "/", [host(srv), ("Cookie", ticket)])
            assert status == 200
            origin = f"http://127.0.0.1:{srv.port}"
            async with connect(ws_url(srv, "/agent"), additional_headers={"Cookie": ticket, "Origin": origin}) as ws:
                first = await recv(ws)
                assert first["kind"] == "state" and first["agent_id"] == "a7"
            forged = ticket[:-4] + ("0000" if not ticket.endswith("0000") else "1111")
            status, _, _ = await raw_get(srv, "/agent", [host(srv), *UPGRADE, ("Cookie", forged)])
            assert status == 403

    run(scenario())


def test_short_tokens_are_refused_at_start() -> None:
    env = {**os.environ, "ASSIST_TOKENS__CTI": "short-token"}
    done = subprocess.run([sys.executable, "-m", "assist", "serve", "--port", "0", "--no-log"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "tokens.cti" in done.stderr and "16 characters" in done.stderr
    assert Tokens(cti="x" * 16, agents={"a1": "short"}).short() == ["tokens.agents.a1"]


def test_the_call_log_is_created_owner_only(tmp_path) -> None:
    from assist.server.calllog import CallLog

    log = CallLog(tmp_path / "calls.db")
    log.close()
    assert (tmp_path / "calls.db").stat().st_mode & 0o077 == 0
