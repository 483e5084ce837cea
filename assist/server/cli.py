"""`assist serve` and `assist demo` subcommands (registered into the main CLI)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)


def _serve(args: argparse.Namespace) -> int:
    from assist import load_rules
    from assist.server.app import AssistServer
    from assist.server.config import load_config

    config = load_config(args.config, host=args.host, port=args.port, certfile=args.certfile,
                         keyfile=args.keyfile)
    rules = load_rules(args.rules)
    tokens = config.tokens
    if not (tokens.cti or tokens.supervisor or tokens.agents):
        print("assist: warning: no tokens configured (tokens.* in --config or ASSIST_*_TOKEN): "
              "every websocket connection will be refused", file=sys.stderr)
    _logging()

    async def main() -> None:
        async with AssistServer(config, rules) as server:
            agents = len(tokens.agents)
            print(f"assist: serving on {server.url('/')} ({agents} agent token(s))", file=sys.stderr)
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from assist.server.demo import run_demo

    refused = 0
    with contextlib.suppress(KeyboardInterrupt):
        refused = asyncio.run(run_demo(Path(args.file), host=args.host, port=args.port, speed=args.speed,
                                       once=args.once))
    return 1 if refused else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the server's subcommands to the `assist` parser."""
    from assist import DEFAULT_RULES
    from assist.server.demo import DEFAULT_CALL

    serve = sub.add_parser("serve", help="run the live server: /ingest, /agent, /supervisor, pages, /metrics")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8765; 0 picks a free one)")
    serve.add_argument("--rules", default=str(DEFAULT_RULES), help="rule packs directory")
    serve.add_argument("--config", help="YAML or JSON settings file (tokens, limits, origins, TLS)")
    serve.add_argument("--certfile", help="TLS certificate (PEM); with --keyfile serves https/wss")
    serve.add_argument("--keyfile", help="TLS private key (PEM)")
    serve.set_defaults(func=_serve)

    demo = sub.add_parser("demo", help="serve and stream an example call at real speed; "
                                       "prints the sidebar URL")
    demo.add_argument("--once", action="store_true", help="stream the call once, then exit")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8765)
    demo.add_argument("--speed", type=float, default=1.0, help="2 plays twice as fast")
    demo.add_argument("--file", default=str(DEFAULT_CALL), help="native JSON Lines call to stream")
    demo.set_defaults(func=_demo)
