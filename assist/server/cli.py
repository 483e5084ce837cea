"""`assist serve`, `assist demo`, and the call log's `assist export` / `assist purge` (registered into
the main CLI)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from assist.server import DEFAULT_HOST, DEFAULT_PORT

DEFAULT_LOG = "assist-calls.db"


log = logging.getLogger("assist.server")


def _serve(args: argparse.Namespace) -> int:
    from assist import load_rules
    from assist.server import eventloop
    from assist.server.app import AssistServer
    from assist.server.config import MIN_TOKEN_CHARS, ConfigError, load_config
    from assist.server.logs import configure as configure_logging

    config = load_config(args.config, host=args.host, port=args.port, certfile=args.certfile,
                         keyfile=args.keyfile, log={"path": args.log, "sync": args.log_sync,
                                                    "retention_days": args.retention_days},
                         summary_webhook={"url": args.summary_webhook})
    if args.no_log:
        config.log.path = None
    elif config.log.path is None:
        config.log.path = DEFAULT_LOG  # nothing lost by default: every accepted event is logged before its ack
    configure_logging(config.logging.format, config.logging.level)
    rules = load_rules(args.rules)
    tokens = config.tokens
    short = tokens.short()
    if short:
        raise ConfigError(f"{', '.join(short)}: expected a token of at least {MIN_TOKEN_CHARS} characters "
                          "(python -c 'import secrets; print(secrets.token_urlsafe(24))' makes one)")
    if not (tokens.cti or tokens.supervisor or tokens.agents):
        log.warning("no_tokens", extra={"why": "every websocket connection will be refused",
                                        "fix": "tokens.* in --config, or ASSIST_TOKENS__CTI etc."})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):  # graceful: see AssistServer.stop
            loop.add_signal_handler(sig, stop.set)
        async with AssistServer(config, rules, rules_source=args.rules) as server:  # logs "listening"
            reloads: set[asyncio.Task[Any]] = set()

            def reload() -> None:  # SIGHUP: the packs again from --rules (server/reload.py)
                task = asyncio.create_task(server.reload_rules())
                reloads.add(task)
                task.add_done_callback(reloads.discard)

            loop.add_signal_handler(signal.SIGHUP, reload)
            # it serves from start() on; no serve_forever task: cancelling one closed every connection
            # with 1001 at once, before the graceful stop (the `async with` exit) sent their last acks
            await stop.wait()
            log.info("stopping", extra={"open_calls": len(server.hub.calls),
                                        "timeout_s": config.stop_timeout_s})
        log.info("stopped")

    with contextlib.suppress(KeyboardInterrupt):
        eventloop.run(main(), use_uvloop=config.uvloop)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from assist import load_rules
    from assist.bundle import demo_call
    from assist.server.demo import run_demo

    rules = load_rules(args.rules)
    refused = 0
    with contextlib.suppress(KeyboardInterrupt):
        path = Path(args.file) if args.file else demo_call(args.lang)
        refused = asyncio.run(run_demo(path, host=args.host, port=args.port, speed=args.speed,
                                       once=args.once, rules=rules))
    return 1 if refused else 0


def _export(args: argparse.Namespace) -> int:
    from assist.server.calllog import export_jsonl

    text = export_jsonl(args.log, args.call_id)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _purge(args: argparse.Namespace) -> int:
    from assist.server.calllog import purge_file

    gone = purge_file(args.log, args.older_than_days)
    print(f"{gone} ended call(s) older than {args.older_than_days:g} day(s) purged; open calls kept")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the server's subcommands to the `assist` parser."""
    from assist.bundle import DEFAULT_CALL, DEFAULT_RULES, DEMO_LANGS

    serve = sub.add_parser("serve", help="run the live server: /ingest, /agent, /supervisor, pages, /metrics")
    serve.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--rules", default=str(DEFAULT_RULES), help="rule packs directory")
    serve.add_argument("--config", help="YAML or JSON settings file (tokens, limits, origins, TLS)")
    serve.add_argument("--certfile", help="TLS certificate (PEM); with --keyfile serves https/wss")
    serve.add_argument("--keyfile", help="TLS private key (PEM)")
    serve.add_argument("--log", metavar="PATH", help="durable call log (SQLite, WAL): every accepted event and "
                       "output, written before the ack; open calls are rebuilt from it on start "
                       f"(default: log.path from --config, else ./{DEFAULT_LOG})")
    serve.add_argument("--no-log", action="store_true", help="no call log: a restart loses the open calls")
    serve.add_argument("--log-sync", choices=["normal", "full"],
                       help="normal (default): survives the process dying; full: also power loss (slower)")
    serve.add_argument("--retention-days", type=float, metavar="N",
                       help="purge calls that ended more than N days ago (at start, then hourly)")
    serve.add_argument("--summary-webhook", metavar="URL",
                       help="POST each call's summary here when it ends (signed with summary_webhook.secret "
                            "from --config or ASSIST_SUMMARY_WEBHOOK__SECRET; retried; kept in the call log "
                            "until delivered)")
    serve.set_defaults(func=_serve)

    demo = sub.add_parser("demo", help="serve and stream an example call at real speed; "
                                       "prints the sidebar URL")
    demo.add_argument("--once", action="store_true", help="stream the call once, then exit")
    demo.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    demo.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    demo.add_argument("--speed", type=float, default=1.0, help="2 plays twice as fast")
    demo.add_argument("--lang", choices=DEMO_LANGS, default="en",
                      help=f"which bundled call to stream (default en: {DEFAULT_CALL.name})")
    demo.add_argument("--file", help="a native JSON Lines call to stream instead of a bundled one")
    demo.add_argument("--rules", default=str(DEFAULT_RULES), help="rule packs directory")
    demo.set_defaults(func=_demo)

    export = sub.add_parser("export", help="write a logged call's events as native JSON Lines "
                                           "(what `assist replay` reads)")
    export.add_argument("call_id", metavar="CALL_ID")
    export.add_argument("--log", required=True, metavar="PATH", help="the call log of `assist serve --log`")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(func=_export)

    purge = sub.add_parser("purge", help="delete ended calls older than N days from a call log "
                                         "(never open calls; safe while the server runs)")
    purge.add_argument("--log", required=True, metavar="PATH")
    purge.add_argument("--older-than-days", type=float, required=True, metavar="N")
    purge.set_defaults(func=_purge)
