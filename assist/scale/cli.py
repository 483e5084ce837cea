"""`assist gateway`, `assist worker`, and `--redis` for `assist serve` and `assist export`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from assist.server.eventloop import run

log = logging.getLogger("assist.scale")
Command = Callable[[argparse.Namespace], int]


def _config(args: argparse.Namespace) -> Any:
    from assist.server.config import load_config
    from assist.server.logs import configure as configure_logging

    extra = {k: getattr(args, k, None) for k in ("host", "port", "certfile", "keyfile")}
    config = load_config(args.config, **extra)
    if args.redis:
        config.redis.url = args.redis
    if not config.redis.url:
        raise SystemExit("assist: expected --redis URL (or redis.url in --config, or ASSIST_REDIS__URL), "
                         "got none")
    configure_logging(config.logging.format, config.logging.level)
    return config


def _gateway(args: argparse.Namespace) -> int:
    from assist.scale.gateway import Gateway

    config = _config(args)
    config.log.path = None  # in Redis mode the durable record is Redis

    async def main() -> None:
        async with Gateway(config, config.redis.url, config.redis) as gateway:
            await gateway.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        run(main(), config.uvloop)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from assist import load_rules
    from assist.scale.worker import Worker

    config = _config(args)
    rules = load_rules(args.rules)

    async def main() -> None:
        worker = Worker(config.redis.url, rules, config.redis, max_calls=config.limits.max_calls,
                        idle_timeout_s=config.idle_timeout_s, tick_interval_s=config.tick_interval_s,
                        name=args.name)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # hand the partitions back at once
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()

    run(main(), config.uvloop)
    return 0


def _serve_scaled(args: argparse.Namespace) -> int:
    """A gateway in this process and N worker processes: every core of one box."""
    from assist.scale.gateway import Gateway

    config = _config(args)
    config.log.path = None
    command = [sys.executable, "-m", "assist", "worker", "--redis", config.redis.url, "--rules", args.rules]
    if args.config:
        command += ["--config", args.config]
    workers: list[subprocess.Popen[bytes]] = []

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command)

    async def supervise() -> None:
        while True:  # a worker that died is replaced; meanwhile the others hold its partitions
            await asyncio.sleep(1.0)
            for i, proc in enumerate(workers):
                if proc.poll() is not None:
                    log.warning("worker_restarted", extra={"pid": proc.pid, "code": proc.returncode})
                    workers[i] = spawn()

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # stop the workers too (they hand their partitions back)
            loop.add_signal_handler(sig, stopping.set)
        workers.extend(spawn() for _ in range(args.workers))
        watcher = asyncio.create_task(supervise())
        try:
            async with Gateway(config, config.redis.url, config.redis):
                await stopping.wait()
        finally:
            watcher.cancel()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            run(main(), config.uvloop)
    finally:
        for proc in workers:
            proc.terminate()
        deadline = time.monotonic() + 10
        for proc in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
    return 0


def _export_redis(args: argparse.Namespace) -> int:
    from pathlib import Path

    from assist.scale.export import export_jsonl

    text = asyncio.run(export_jsonl(args.redis, args.call_id, args.prefix))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _either(original: Command, scaled: Command) -> Command:
    def run(args: argparse.Namespace) -> int:
        return scaled(args) if args.redis else original(args)

    return run


def _connection_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML or JSON settings file (tokens, limits, origins, TLS, redis.*)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gateway` and `worker`, and `--redis` to the server's `serve` and `export`."""
    from assist.bundle import DEFAULT_RULES

    gateway = sub.add_parser("gateway", help="scale-out: the websocket edge (/ingest, /agent, /supervisor, "
                                             "pages, /metrics) in front of Redis; run any number")
    gateway.add_argument("--redis", metavar="URL", help="redis://host:6379/0 (or redis.url in --config)")
    gateway.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    gateway.add_argument("--port", type=int, help="port (default 8765; 0 picks a free one)")
    gateway.add_argument("--certfile", help="TLS certificate (PEM); with --keyfile serves https/wss")
    gateway.add_argument("--keyfile", help="TLS private key (PEM)")
    _connection_args(gateway)
    gateway.set_defaults(func=_gateway)

    worker = sub.add_parser("worker", help="scale-out: run the engine for the partitions this worker "
                                           "leases; run any number, on any machines")
    worker.add_argument("--redis", metavar="URL", help="redis://host:6379/0 (or redis.url in --config)")
    worker.add_argument("--rules", default=str(DEFAULT_RULES), help="rule packs directory")
    worker.add_argument("--name", help="worker id (default host:pid:random)")
    _connection_args(worker)
    worker.set_defaults(func=_worker)

    serve = sub.choices["serve"]
    serve.add_argument("--redis", metavar="URL", help="scale-out on one box: a gateway here and --workers "
                       "worker processes, all through Redis (the call log is Redis then)")
    serve.add_argument("--workers", type=int, default=2, metavar="N",
                       help="with --redis: worker processes to start (default 2)")
    serve.set_defaults(func=_either(serve.get_default("func"), _serve_scaled))

    export = sub.choices["export"]
    for action in export._actions:
        if action.dest == "log":
            action.required = False
            action.help = "the call log of `assist serve --log` (or --redis)"
    export.add_argument("--redis", metavar="URL", help="read the call from Redis (scale-out mode)")
    export.add_argument("--prefix", default="assist", help="with --redis: the key prefix (redis.prefix)")
    original = export.get_default("func")

    def export_either(args: argparse.Namespace) -> int:
        if not args.redis and not args.log:
            raise SystemExit("assist export: expected --log PATH or --redis URL, got neither")
        return _export_redis(args) if args.redis else int(original(args))

    export.set_defaults(func=export_either)
