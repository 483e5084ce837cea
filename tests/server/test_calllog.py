"""The durable call log on a real server over loopback: rows before acks, recovery of open calls,
idempotent ingest across a restart, sidebar feedback reaching the engine, export and purge."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from serverkit import (
    TOKENS,
    agent,
    end,
    feedback,
    ingest,
    raise_prompts,
    recv_until,
    rules,
    run,
    say,
    send,
    start,
)

from assist.core.engine import Engine
from assist.server.app import AssistServer
from assist.server.calllog import CallLog, purge_file
from assist.server.config import CallLogSettings, Limits, ServerConfig

ROOT = Path(__file__).resolve().parents[2]
ASSIST = str(Path(sys.executable).parent / "assist")  # the installed console script


@asynccontextmanager
async def logged_server(path: Path, **limits: Any) -> AsyncIterator[AssistServer]:
    config = ServerConfig(port=0, tokens=TOKENS, limits=Limits(**limits), log=CallLogSettings(path=str(path)))
    async with AssistServer(config, rules()) as srv:
        yield srv


def rows(path: Path) -> list[tuple[str, int, str, int | None]]:
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT call_id, dir, kind, seq FROM rows ORDER BY n"))


def without_clock(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "calls": [{k: v for k, v in c.items() if k != "t_ms"} for c in state["calls"]]}


def test_every_accepted_event_and_output_is_in_the_log_before_its_ack(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"

    async def scenario() -> None:
        async with logged_server(db) as srv:
            cti = await ingest(srv)
            await send(cti, start("c1", "a7", seq=1))
            assert [r for r in rows(db) if r[1] == 0] == [("c1", 0, "call.start", 1)]  # committed at the ack
            assert (await send(cti, say("c1", "customer", "hello", 2000, seq=2)))["type"] == "ack"
            await raise_prompts(cti, "c1", t0=3000)
            kinds = [r[2] for r in rows(db)]
            assert kinds.count("prompt") >= 2
            await send(cti, end("c1", 20_000, seq=9))
            assert rows(db)[-1][2] == "summary"

    run(scenario())


def test_a_restarted_server_rebuilds_open_calls_and_sidebars_get_the_same_state(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"

    async def scenario() -> None:
        async with logged_server(db) as first:
            a7 = await agent(first, "a7")
            cti = await ingest(first)
            await send(cti, start("c1", "a7", seq=1))
            await send(cti, say("c1", "customer", "This is ridiculous, I've waited two weeks!", 3000, seq=2))
            await send(cti, say("c1", "agent", "I'm sorry, can I have your order number?", 5000, seq=3))
            await send(cti, start("c2", "a7", seq=1))
            await send(cti, end("c2", 1000, seq=2))
            prompt, _ = await recv_until(a7, lambda m: m["kind"] == "prompt")
            await feedback(a7, prompt["id"], "dismiss")
            await recv_until(a7, lambda m: m["kind"] == "feedback")
            before = first.hub.calls["c1"].to_dict()
            await cti.close()
            await a7.close()
        # stop() leaves c1 open in the log, as a crash would
        async with logged_server(db) as second:
            assert second.recovered["calls"] == 1
            after = second.hub.calls["c1"].to_dict()
            assert after == before and prompt["id"] not in {p["id"] for p in after["prompts"]}
            a7 = await agent(second, "a7")
            cti = await ingest(second)
            # resent events are acknowledged as duplicates and raise nothing
            for ev in (say("c1", "agent", "I'm sorry, can I have your order number?", 5000, seq=3),
                       end("c2", 1000, seq=2), start("c2", "a7", seq=1)):
                reply = await send(cti, ev)
                assert reply["type"] == "ack" and reply["duplicate"] is True, reply
            assert (await send(cti, end("c1", 9000, seq=4)))["type"] == "ack"
            summary, seen = await recv_until(a7, lambda m: m["kind"] == "summary")
            assert not [m for m in seen if m["kind"] == "prompt"]
            assert summary["feedback"] == {prompt["rule"]: {"dismiss": 1}}  # the engine heard the feedback

    run(scenario(), timeout=30)


def test_utterance_ids_make_a_resend_idempotent_without_seq(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"

    async def scenario() -> None:
        async with logged_server(db) as srv:
            cti = await ingest(srv)
            await send(cti, start("c1", "a7"))
            ev = {**say("c1", "customer", "This is ridiculous!", 3000), "utterance_id": "u-1"}
            assert "duplicate" not in await send(cti, ev)
            assert (await send(cti, ev))["duplicate"] is True
        async with logged_server(db) as srv:
            cti = await ingest(srv)
            assert (await send(cti, ev))["duplicate"] is True
            assert [r[2] for r in rows(db) if r[1] == 0].count("utterance") == 1

    run(scenario())


def test_export_writes_native_jsonl_that_replays_to_the_same_prompts(tmp_path: Path) -> None:
    db, out = tmp_path / "calls.db", tmp_path / "c1.jsonl"

    async def scenario() -> list[dict[str, Any]]:
        async with logged_server(db) as srv:
            cti = await ingest(srv)
            await send(cti, start("c1", "a7", seq=1))
            await raise_prompts(cti, "c1")
            await send(cti, say("c1", "agent", "I understand how frustrating that is.", 7000, seq=5))
            await send(cti, end("c1", 9000, seq=6))
            return [m for m in CallLog(db, checkpoint_s=None).events("c1", outbound=True)]

    logged = run(scenario())
    done = subprocess.run([ASSIST, "export", "c1", "--log", str(db), "--format", "jsonl",
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text().splitlines()[0])["type"] == "call.start"
    replayed = subprocess.run([ASSIST, "replay", str(out), "--json"],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    assert [json.loads(line) for line in replayed.stdout.splitlines()] == logged


def test_purge_removes_old_ended_calls_and_never_open_ones(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    log = CallLog(db, checkpoint_s=None)
    engine = Engine(rules())
    for call_id in ("old", "open"):
        log.opened(call_id, "a7")
        log.inbound(call_id, "call.start", 1, None, json.dumps(start(call_id)))
    log.closed("old", "ended")
    log.commit()
    engine.close()
    old = time.time() - 40 * 86_400
    log.db.execute("UPDATE calls SET opened_at = ?, ended_at = ? WHERE call_id = 'old'", (old, old))
    log.db.execute("UPDATE calls SET opened_at = ? WHERE call_id = 'open'", (old,))
    log.close()
    assert purge_file(db, 30) == 1
    log = CallLog(db, checkpoint_s=None)
    assert [c.call_id for c in log.open_calls()] == ["open"] and log.stats()["calls"] == 1
    assert {r[0] for r in rows(db)} == {"open"}
    log.close()
