"""`assist serve --redis URL --workers N` on one box, and `assist export CALL_ID --redis URL`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from redisproc import RedisServer, free_port
from scalehelp import TOKENS, Sidebar, expected_prompts, prompts_of, run, scripts, until
from scaleproc import ASSIST, Proc, write_config

from assist.client import IngestClient


def test_serve_with_redis_runs_a_gateway_and_workers_and_export_reads_the_call_back(
        redis_server: RedisServer, tmp_path: Path) -> None:
    calls = scripts(3, 10, prefix="cli", agents=1)
    config = write_config(tmp_path / "assist.yaml", partitions=4, lease_ms=2000)
    port = free_port()
    serve = Proc([ASSIST, "serve", "--redis", redis_server.url, "--workers", "2", "--config", str(config),
                  "--port", str(port)], tmp_path / "serve.log").start()

    async def scenario() -> list[dict[str, Any]]:
        from scaleproc import GatewayProc

        probe = GatewayProc(redis_server.url, config, tmp_path, port=port)
        probe.proc = serve.proc
        await probe.ready()
        ws = f"ws://127.0.0.1:{port}"
        async with Sidebar(ws, "a0") as sidebar:
            async with IngestClient(f"{ws}/ingest", TOKENS["cti"]) as cti:  # type: ignore[arg-type]
                for evs in calls.values():
                    for ev in evs:
                        await cti.send(ev)
                await cti.drain()

            async def ended() -> bool:
                return len(sidebar.of_kind("summary")) == len(calls)

            await until(ended, 30, "the calls' summaries")
            return sidebar.messages

    try:
        messages = run(scenario(), timeout=60)
    finally:
        serve.stop()

    async def workers_left() -> int:
        from assist.scale.settings import connect

        client = connect(redis_server.url)
        left = int(await client.zcard("assist:workers"))
        await client.aclose()
        return left

    assert run(workers_left()) == 0, "stopping serve stops its workers, which hand their partitions back"
    assert prompts_of(messages) == {c: p for c, p in expected_prompts(calls).items() if p}
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
    call_id = next(iter(calls))
    out = subprocess.run([ASSIST, "export", call_id, "--redis", redis_server.url], capture_output=True, text=True,
                         check=True)
    assert [json.loads(line) for line in out.stdout.splitlines()] == calls[call_id]
    missing = subprocess.run([ASSIST, "export", "nope", "--redis", redis_server.url], capture_output=True,
                             text=True)
    assert missing.returncode != 0 and "no call 'nope'" in missing.stderr
