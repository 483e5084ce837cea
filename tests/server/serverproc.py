"""`assist serve` as a real subprocess on loopback, for tests that kill it, restart it or watch its memory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ASSIST = str(Path(sys.executable).parent / "assist")  # the installed console script
CTI = "cti-secret-for-tests"  # `assist serve` refuses tokens under 16 characters
METRICS = "metrics-secret-for-tests"  # opens the details of /healthz


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def agent_token(agent_id: str) -> str:
    return f"tok-{agent_id}-for-tests-0"


def write_config(path: Path, agents: int, **extra: Any) -> Path:
    """A YAML config with a CTI token and agents a0..a{agents-1}, limits high enough for load tests."""
    config = {"host": "127.0.0.1", "tokens": {"cti": CTI, "metrics": METRICS, "agents": {f"a{i}": agent_token(f"a{i}")
                                                                      for i in range(agents)}},
              "limits": {"max_events_per_s": 100_000, "max_calls": 1800}, **extra}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class ServerProcess:
    """`assist serve --config CONFIG --log LOG (or --no-log) --port PORT`; start() waits for /healthz."""

    def __init__(self, config: Path, log: Path | None, port: int, stderr: Path):
        self.args = [ASSIST, "serve", "--config", str(config), "--port", str(port)]
        self.args += ["--log", str(log)] if log is not None else ["--no-log"]
        self.port = port
        self.stderr_path = stderr
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 60.0) -> None:
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=err,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"assist serve exited with {self.proc.returncode}: {self.stderr()[-2000:]}")
            try:
                await self.health()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise TimeoutError(f"assist serve did not answer /healthz within {timeout} s")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    async def health(self) -> dict[str, Any]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                         f"Authorization: Bearer {METRICS}\r\n\r\n".encode())
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
        health: dict[str, Any] = json.loads(raw.partition(b"\r\n\r\n")[2])
        return health

    def rss_bytes(self) -> int:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine or the OOM killer takes it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
