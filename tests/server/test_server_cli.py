"""The copyable CTI client and `assist demo`, end to end on loopback."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from serverkit import agent, recv_until, run, server

from assist import Engine, Prompt, load_rules
from assist.bundle import DEFAULT_CALL, DEMO_LANGS, demo_call
from assist.server.demo import read_events, run_demo

ROOT = Path(__file__).resolve().parents[2]


def test_cti_client_streams_a_transcript_and_the_sidebar_gets_prompts() -> None:
    async def scenario() -> None:
        async with server() as srv:
            a7 = await agent(srv, "a7")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(ROOT / "examples" / "cti_client.py"), str(DEFAULT_CALL),
                "--url", srv.url("/ingest", scheme="ws"), "--speed", "0",
                env={**os.environ, "ASSIST_CTI_TOKEN": "cti-secret"},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
            events = [line for line in DEFAULT_CALL.read_text().splitlines() if line.strip()]
            assert out.decode().count('"type": "ack"') == len(events)
            prompt, _ = await recv_until(a7, lambda m: m["kind"] == "prompt")
            assert prompt["call_id"] == "demo-en-1"

    run(scenario(), timeout=30)


def test_demo_once_streams_the_bundled_call_and_exits() -> None:
    lines: list[str] = []
    refused = run(run_demo(port=0, speed=1000, once=True, print_=lines.append), timeout=30)
    assert refused == 0
    assert lines[0].startswith("sidebar for agent a7:  http://127.0.0.1:") and "/?token=" in lines[0]
    assert "/supervisor?token=" in lines[1]
    assert "prompt(s) raised" in lines[-1] and " 0 prompt(s)" not in lines[-1]


@pytest.mark.parametrize("lang", DEMO_LANGS)
def test_every_demo_language_has_a_bundled_call_that_raises_prompts_in_that_language(lang: str) -> None:
    lines: list[str] = []
    assert run(run_demo(demo_call(lang), port=0, speed=1000, once=True, print_=lines.append), timeout=30) == 0
    assert f"streaming demo_{lang}.jsonl" in lines[2]
    assert "prompt(s) raised" in lines[-1] and " 0 prompt(s)" not in lines[-1]
    rules = load_rules()
    engine = Engine(rules)
    try:
        prompts = [o for e in read_events(demo_call(lang)) for o in engine.feed(e) if isinstance(o, Prompt)]
    finally:
        engine.close()
    assert prompts and all(p.say == rules.rules[p.rule].say[lang] for p in prompts)
