#!/usr/bin/env python3
"""Stream a native JSON Lines transcript into assist's /ingest, the way a CTI integration would.

Uses assist.client.IngestClient (pip install assist): events are numbered (seq) and pipelined, and if
the connection drops the client reconnects and resends everything not yet acknowledged, so nothing
is lost and nothing is applied twice. Copy it and adapt it.

    ASSIST_CTI_TOKEN=... python examples/cti_client.py examples/demo_en.jsonl
    python examples/cti_client.py calls.jsonl --url ws://127.0.0.1:8765/ingest --token ... --speed 4

Each line is one event (call.start / utterance / call.end); it is sent when its time comes
(utterances at end_ms, others at t_ms; --speed 2 plays twice as fast, 0 as fast as possible).
Every ack and error the server answers is printed. Exit status 1 if any event was refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from assist.client import IngestClient, IngestRefused

MAX_PAUSE_S = 10.0  # a long silence in the file never stalls the stream for longer


def event_time_ms(event: dict[str, Any]) -> int:
    """When an event happens in call time: an utterance when it ends, anything else at t_ms."""
    value = event.get("end_ms") if event.get("type") == "utterance" else event.get("t_ms")
    return int(value) if isinstance(value, (int, float)) else 0


def read_lines(path: str) -> list[tuple[int, str]]:
    with open(path, encoding="utf-8") as f:
        return [(n, line.strip()) for n, line in enumerate(f, 1) if line.strip()]


async def stream(path: str, url: str, token: str, speed: float) -> int:
    lines = read_lines(path)
    where: dict[tuple[str, int], int] = {}  # (call_id, seq) → line number, to report answers by line

    def answered(reply: dict[str, Any], event: dict[str, Any]) -> None:
        n = where.get((str(event.get("call_id", "")), event["seq"]), 0)
        if reply.get("type") == "error":
            print(f"{path}:{n}: error: {reply.get('message')}", file=sys.stderr)
        else:
            print(f"{path}:{n}: {json.dumps(reply)}")

    unreadable = 0
    async with IngestClient(url, token, on_reply=answered) as client:
        previous = None
        for n, line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                print(f"{path}:{n}: error: expected a JSON object, got invalid JSON", file=sys.stderr)
                unreadable += 1
                continue
            if not isinstance(event, dict):
                print(f"{path}:{n}: error: expected a JSON object", file=sys.stderr)
                unreadable += 1
                continue
            t = event_time_ms(event)
            if speed > 0 and previous is not None and t > previous:
                await asyncio.sleep(min((t - previous) / 1000 / speed, MAX_PAUSE_S))
            previous = t if previous is None else max(previous, t)
            seq = await client.send(event)
            where[(str(event.get("call_id", "")), seq)] = n
    return len(client.errors) + unreadable


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("file", help="native JSON Lines transcript")
    parser.add_argument("--url", default="ws://127.0.0.1:8765/ingest", help="the server's /ingest address")
    parser.add_argument("--token", default=os.environ.get("ASSIST_CTI_TOKEN", ""),
                        help="CTI token (default: $ASSIST_CTI_TOKEN)")
    parser.add_argument("--speed", type=float, default=1.0, help="1 real time, 2 twice as fast, 0 no pauses")
    args = parser.parse_args()
    if not args.token:
        parser.error("give --token or set ASSIST_CTI_TOKEN")
    try:
        refused = asyncio.run(stream(args.file, args.url, args.token, args.speed))
    except KeyboardInterrupt:
        return 130
    except (OSError, IngestRefused) as exc:
        print(f"cti_client: {exc}", file=sys.stderr)
        return 2
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
