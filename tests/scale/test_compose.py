"""compose.yaml's services run: each gateway and worker command with its environment, as the image would run
them (`assist <command>`), against a real redis-server on loopback; the gateway answers /healthz and a call
streamed into it comes back to the agent as prompts (the workers run the engine)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path

import yaml
from redisproc import RedisServer, free_port
from scalehelp import http_status
from scaleproc import ASSIST
from websockets.asyncio.client import connect

from assist.bundle import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"ASSIST_TOKENS__CTI": "compose-cti-token-0123", "ASSIST_TOKENS__SUPERVISOR": "compose-sup-token-0123",
          "ASSIST_TOKENS__AGENTS": json.dumps({"a7": "compose-a7-token-0123"})}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR:?message} and ${VAR:-default}, from `env`."""
    def one(m: re.Match[str]) -> str:
        name, op, rest = m.group(1), m.group(2), m.group(3)
        if name in env:
            return env[name]
        assert op == ":-", f"compose needs {name}: {rest}"
        return rest
    return re.sub(r"\$\{(\w+)(:[?-])([^}]*)\}", one, value)


def test_the_compose_services_run_and_serve_a_call(redis_server: RedisServer, tmp_path: Path) -> None:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("gateway", "worker-1", "worker-2"):
            service = services[name]
            env = {**os.environ, "PYTHONUNBUFFERED": "1",
                   **{k: interpolate(str(v), TOKENS) for k, v in service["environment"].items()},
                   "ASSIST_REDIS__URL": redis_server.url,  # the compose file's redis://redis:6379/0, here
                   "ASSIST_HOST": "127.0.0.1", "ASSIST_PORT": str(port)}  # the image listens on 0.0.0.0:8765
            with (tmp_path / f"{name}.log").open("wb") as log:
                procs.append(subprocess.Popen([ASSIST, *service["command"]], env=env, stdout=log, stderr=log))
        asyncio.run(asyncio.wait_for(_serve_a_call(port, procs, tmp_path), 90))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _serve_a_call(port: int, procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
    while True:
        for proc in procs:
            assert proc.poll() is None, "\n".join(p.read_text()[-1500:] for p in logs.glob("*.log"))
        try:
            if await http_status(port, "/healthz") == 200:
                break
        except OSError:
            pass
        await asyncio.sleep(0.1)
    base = f"ws://127.0.0.1:{port}"
    agents = json.loads(TOKENS["ASSIST_TOKENS__AGENTS"])
    async with connect(f"{base}/agent", additional_headers={"Authorization": f"Bearer {agents['a7']}"}) as agent, \
            connect(f"{base}/ingest",
                    additional_headers={"Authorization": f"Bearer {TOKENS['ASSIST_TOKENS__CTI']}"}) as ingest:
        for line in (EXAMPLES / "demo_en.jsonl").read_text(encoding="utf-8").splitlines():
            await ingest.send(line)
            assert json.loads(await ingest.recv())["type"] == "ack"
        while True:  # bounded by the caller's wait_for
            msg = json.loads(await agent.recv())
            if msg.get("kind") == "prompt":
                assert msg["call_id"] == "demo-en-1" and msg["say"]
                return
