"""Optional TLS: with --certfile/--keyfile the server speaks wss and https only (a real certificate
made with openssl for 127.0.0.1; the client trusts exactly that certificate)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import urllib.request
from pathlib import Path

import pytest
from serverkit import ANGRY, SORRY, TOKENS, recv_until, rules, run, say, send, start
from websockets.asyncio.client import connect

from assist.server.app import AssistServer
from assist.server.config import ServerConfig


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificate (apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_serves_wss_and_https_and_refuses_plain_websockets(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    client_tls = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> None:
        config = ServerConfig(port=0, tokens=TOKENS, certfile=str(cert), keyfile=str(key))
        async with AssistServer(config, rules()) as srv:
            assert srv.url("/").startswith("https://")
            health = await asyncio.to_thread(
                lambda: urllib.request.urlopen(srv.url("/healthz"), context=client_tls, timeout=5).status)
            assert health == 200
            sidebar = await connect(srv.url("/agent", "tok-a7", scheme="wss"), ssl=client_tls)
            await recv_until(sidebar, lambda m: m.get("kind") == "state")
            cti = await connect(srv.url("/ingest", scheme="wss"), ssl=client_tls,
                                additional_headers={"Authorization": "Bearer cti-secret"})
            await send(cti, start("tls1"))
            await send(cti, say("tls1", "customer", ANGRY, 3000))
            await send(cti, say("tls1", "agent", SORRY, 6000))
            prompt, _ = await recv_until(sidebar, lambda m: m.get("kind") == "prompt"
                                      and m.get("rule") == "acknowledge-before-apology")
            assert prompt["call_id"] == "tls1"
            with pytest.raises(Exception):  # noqa: B017 - any failure to talk plain ws to a TLS port will do
                plain = await asyncio.wait_for(connect(srv.url("/ingest", scheme="ws"),
                                                       additional_headers={"Authorization": "Bearer cti-secret"}), 5)
                await plain.close()
            await cti.close()
            await sidebar.close()

    run(scenario(), timeout=40)
