"""Handshake auth, origin check, and the plain HTTP routes."""

from __future__ import annotations

import json

import pytest
from serverkit import http_get, ingest, raise_prompts, run, send, server, start, ws_url
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus


async def refused(url: str, **kw: object) -> int:
    with pytest.raises(InvalidStatus) as info:
        await connect(url, **kw)  # type: ignore[arg-type]
    return info.value.response.status_code


def test_missing_token_is_401_and_wrong_token_is_403() -> None:
    async def scenario() -> None:
        async with server() as srv:
            assert await refused(ws_url(srv, "/ingest")) == 401
            assert await refused(ws_url(srv, "/agent")) == 401
            assert await refused(ws_url(srv, "/ingest", "guess")) == 403
            wrong = {"Authorization": "Bearer nope"}
            assert await refused(ws_url(srv, "/agent"), additional_headers=wrong) == 403
            assert await refused(ws_url(srv, "/supervisor", "tok-a7")) == 403  # right token, wrong door
            assert await refused(ws_url(srv, "/ingest", "tok-a7")) == 403
            assert await refused(ws_url(srv, "/agent", "cti-secret")) == 403
            right = {"Authorization": "Bearer sup-secret"}
            ok = await connect(ws_url(srv, "/supervisor"), additional_headers=right)
            await ok.close()

    run(scenario())


def test_browser_connections_must_come_from_an_allowed_origin() -> None:
    async def scenario() -> None:
        async with server(allowed_origins=["https://crm.example.com"]) as srv:
            url = ws_url(srv, "/agent", "tok-a7")
            assert await refused(url, origin="https://evil.example.com") == 403
            for origin in (f"http://127.0.0.1:{srv.port}", "https://crm.example.com"):
                ws = await connect(url, origin=origin)  # type: ignore[arg-type]
                await ws.close()

    run(scenario())


def test_pages_static_files_and_unknown_paths() -> None:
    async def scenario() -> None:
        async with server() as srv:
            status, headers, body = await http_get(srv, "/?token=tok-a7")
            assert status == 303 and headers["location"] == "/"  # the token leaves the address (test_hostile_http)
            status, headers, body = await http_get(srv, "/?token=not-a-token")
            assert status == 200 and headers["content-type"].startswith("text/html") and b"<" in body
            status, headers, _ = await http_get(srv, "/supervisor")
            assert status == 200 and headers["content-type"].startswith("text/html")
            for name in srv.static_dir.iterdir():
                if name.suffix in (".js", ".css"):
                    status, headers, _ = await http_get(srv, f"/static/{name.name}")
                    assert status == 200
                    assert headers["content-type"].split(";")[0] in ("text/javascript", "text/css")
            assert (await http_get(srv, "/static/../app.py"))[0] == 404
            assert (await http_get(srv, "/static/.hidden"))[0] == 404
            assert (await http_get(srv, "/nowhere"))[0] == 404
            assert (await http_get(srv, "/ingest"))[0] == 426

    run(scenario())


def test_healthz_and_metrics() -> None:
    async def scenario() -> None:
        async with server() as srv:
            cti = await ingest(srv)
            a7 = await connect(ws_url(srv, "/agent", "tok-a7"))
            await send(cti, start("c1", "a7"))
            await raise_prompts(cti, "c1")
            await send(cti, {"type": "nope"})
            status, headers, body = await http_get(srv, "/healthz", {"Authorization": "Bearer sup-secret"})
            health = json.loads(body)
            assert status == 200 and headers["content-type"] == "application/json"
            assert health["status"] == "ok" and health["open_calls"] == 1
            assert health["connections"] == {"cti": 1, "agent": 1, "supervisor": 0}
            status, headers, body = await http_get(srv, "/metrics", {"Authorization": "Bearer sup-secret"})
            text = body.decode()
            assert status == 200 and headers["content-type"].startswith("text/plain")
            assert 'assist_events_in_total{result="accepted"} 3.0' in text
            assert 'assist_events_in_total{result="error"} 1.0' in text
            assert "assist_prompts_out_total 3.0" in text  # tip-angry, acknowledge-before-apology, -emotion
            assert "assist_open_calls 1.0" in text
            assert 'assist_connections{role="agent"} 1.0' in text
            assert "assist_ingest_to_send_seconds_bucket" in text
            assert "tok-a7" not in text and "cti-secret" not in text
            await a7.close()

    run(scenario())
