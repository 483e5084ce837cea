"""Rule packs reloaded while calls go on: new calls start on the new pack, open calls finish on theirs, a
bad pack is refused with lint's file:line problems and the running rules stay; SIGHUP does the same."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from pathlib import Path
from typing import Any

from serverkit import TOKENS, ingest, raise_prompts, recv_until, rules, run, send, start, ws_url
from serverproc import ServerProcess, free_port, write_config
from websockets.asyncio.client import ClientConnection, connect

from assist.bundle import DEFAULT_RULES
from assist.server.app import AssistServer
from assist.server.config import ServerConfig

RULE = "playbook/rules/acknowledge-before-apology.yaml"
OLD_SAY = "Name the feeling first"
NEW_SAY = "Say what they feel first"


def packs(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, target)
    return target


def reword(root: Path) -> None:
    path = root / RULE
    path.write_text(path.read_text(encoding="utf-8").replace(OLD_SAY, NEW_SAY), encoding="utf-8")


async def prompt_say(sup: ClientConnection, call_id: str) -> str:
    msg, _ = await recv_until(sup, lambda m: m["kind"] == "prompt" and m["call_id"] == call_id
                              and m["rule"] == "acknowledge-before-apology")
    say: str = msg["say"]
    return say


def test_new_calls_take_the_new_pack_open_calls_keep_theirs_and_a_bad_pack_is_refused(tmp_path: Path) -> None:
    root = packs(tmp_path)

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        config = ServerConfig(port=0, tokens=TOKENS, tick_interval_s=3600)
        async with AssistServer(config, rules(), rules_source=root) as srv:
            sup = await connect(ws_url(srv, "/supervisor", "sup-secret"))
            first, _ = await recv_until(sup, lambda m: m["kind"] == "state")
            old_version = first["rules"]
            cti = await ingest(srv)
            assert (await send(cti, start("before"))).get("type") == "ack"  # open before the reload
            reword(root)
            await sup.send(json.dumps({"type": "reload_rules"}))
            answer, _ = await recv_until(sup, lambda m: m["kind"] == "rules")
            assert answer["ok"] is True and answer["version"] != old_version
            assert answer["in_use"] == {old_version: 1, answer["version"]: 0}
            assert (await send(cti, start("after"))).get("type") == "ack"
            await raise_prompts(cti, "before")
            assert (await prompt_say(sup, "before")).startswith(OLD_SAY)  # the rules it started with
            await raise_prompts(cti, "after")
            assert (await prompt_say(sup, "after")).startswith(NEW_SAY)

            (root / "playbook/rules/avoid-policy.yaml").write_text(
                (root / "playbook/rules/avoid-policy.yaml").read_text(encoding="utf-8")
                .replace("all: [policy]", "all: [polcy]"), encoding="utf-8")
            await sup.send(json.dumps({"type": "reload_rules"}))
            refused, _ = await recv_until(sup, lambda m: m["kind"] == "rules")
            assert (await send(cti, start("later"))).get("type") == "ack"
            await raise_prompts(cti, "later")
            assert (await prompt_say(sup, "later")).startswith(NEW_SAY)  # the running rules stayed
            late_sup = await connect(ws_url(srv, "/supervisor", "sup-secret"))
            state, _ = await recv_until(late_sup, lambda m: m["kind"] == "state")
            return refused, state

    refused, state = run(go())
    assert refused["ok"] is False and refused["version"] == state["rules"]
    assert any("avoid-policy.yaml:" in p and "unknown cue 'polcy'" in p for p in refused["problems"])


def test_sighup_reloads_the_packs_of_assist_serve(tmp_path: Path) -> None:
    root = packs(tmp_path)
    port = free_port()
    proc = ServerProcess(write_config(tmp_path / "assist.yaml", 1), None, port, tmp_path / "serve.log")
    proc.args += ["--rules", str(root)]

    async def go() -> tuple[dict[str, int], dict[str, int]]:
        await proc.start()
        before: dict[str, int] = (await proc.health())["rules"]
        reword(root)
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGHUP)
        async with asyncio.timeout(30):
            while (after := (await proc.health())["rules"]) == before:
                await asyncio.sleep(0.1)
        return before, after

    try:
        before, after = run(go(), timeout=60)
    finally:
        proc.stop()
    assert len(before) == 1 and len(after) == 1 and before != after
