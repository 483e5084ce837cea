"""`assist serve` as a user starts it (a subprocess with a YAML config), watched in the browser."""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .browser_harness import AGENT_TOKEN, CTI_TOKEN, SUPERVISOR_TOKEN, call, say

LISTENING = re.compile(r'"url": "(http://127\.0\.0\.1:\d+)/"')  # the JSON "listening" log line


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """Start `assist serve --port 0`; yield its base URL once it says where it listens."""
    config = tmp_path / "assist.yaml"
    config.write_text(f"tokens:\n  cti: {CTI_TOKEN}\n  supervisor: {SUPERVISOR_TOKEN}\n"
                      f"  agents:\n    a7: {AGENT_TOKEN}\n", encoding="utf-8")
    exe = shutil.which("assist", path=str(Path(sys.executable).parent))
    assert exe, f"no `assist` script next to {sys.executable}: pip install -e '.[test]'"
    proc = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", "0", "--config", str(config), "--no-log"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    # Drain stderr all along: the server logs a line per connection and must never block on a full pipe.
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr or ()], daemon=True).start()
    try:
        base, seen = None, []
        deadline = time.monotonic() + 30
        while base is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
            found = LISTENING.search(seen[-1])
            base = found.group(1) if found else None
        assert base, f"`assist serve` never said where it listens; stderr: {''.join(seen)[-2000:]}"
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def ingest(base: str, events: list[dict[str, Any]]) -> None:
    from websockets.sync.client import connect

    with connect(f"{base.replace('http', 'ws', 1)}/ingest?token={CTI_TOKEN}", open_timeout=5) as ws:
        for seq, event in enumerate(events, 1):
            ws.send(json.dumps({**event, "seq": seq}, ensure_ascii=False))
            reply = json.loads(ws.recv(timeout=5))
            assert reply["type"] == "ack", reply


def test_assist_serve_pages_show_the_call(page: Page, served: str, shot: Any) -> None:
    page.goto(f"{served}/?token={AGENT_TOKEN}")
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "online")
    ingest(served, call("cli-1", "a7", "en", ("customer", "You're a useless idiot, I'll see you in court!")))
    card = page.locator("[data-testid=prompt][data-rule=tip-abusive]")
    expect(card.get_by_test_id("prompt-say")).to_have_text(say("tip-abusive", "en"))
    expect(card.get_by_test_id("prompt-severity")).to_have_text("Urgent")
    expect(page.get_by_test_id("customer-type")).to_contain_text("Abusive")
    shot(page)

    board = page.context.new_page()
    board.goto(f"{served}/supervisor?token={SUPERVISOR_TOKEN}")
    expect(board.locator("[data-testid=alert][data-call-id=cli-1]")).to_have_count(1)
    row = board.locator("[data-testid=call-row][data-call-id=cli-1]")
    expect(row.get_by_test_id("urgent-count")).to_have_text("1")
    board.close()
