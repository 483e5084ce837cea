"""`assist gateway` and `assist worker` as real subprocesses on loopback, for tests that kill them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from redisproc import free_port
from scalehelp import TOKENS, http_status

ASSIST = str(Path(sys.executable).parent / "assist")


def write_config(path: Path, **redis: Any) -> Path:
    config = {"host": "127.0.0.1", "tokens": TOKENS, "limits": {"max_events_per_s": 100_000, "max_calls": 1800},
              "redis": redis, "logging": {"format": "json", "level": "info"}}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class Proc:
    def __init__(self, args: list[str], log: Path):
        self.args = args
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=out, env=env)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def worker(url: str, config: Path, name: str, logdir: Path) -> Proc:
    return Proc([ASSIST, "worker", "--redis", url, "--config", str(config), "--name", name],
                logdir / f"{name}.log").start()


class GatewayProc(Proc):
    def __init__(self, url: str, config: Path, logdir: Path, port: int | None = None):
        self.port = port or free_port()
        super().__init__([ASSIST, "gateway", "--redis", url, "--config", str(config), "--port", str(self.port)],
                         logdir / "gateway.log")

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if await http_status(self.port, "/healthz") == 200:
                    return
            except OSError:
                pass
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-2000:]
            await asyncio.sleep(0.05)
        raise AssertionError(f"gateway not ready in {seconds} s: {self.log.read_text()[-2000:]}")
