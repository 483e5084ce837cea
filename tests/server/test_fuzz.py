"""Hypothesis-generated hostile frames against a real server on loopback (issue 12): whatever comes,
the server stays healthy, answers every event (an ack or an error, one per event of a batch) and its
memory stays bounded.

Bounded in time: ASSIST_FUZZ_SECONDS (default 15, about 20 s in all) of examples; set it higher for a
longer hunt (ASSIST_FUZZ_SECONDS=600).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serverkit import TOKENS, rules
from websockets.sync.client import ClientConnection, connect

from assist.server.app import AssistServer
from assist.server.config import CallLogSettings, Limits, ServerConfig

SECONDS = float(os.environ.get("ASSIST_FUZZ_SECONDS", "15"))
MAX_BYTES = 64 * 1024
ODD = ["\ud800", "\udfff", "\u202e", "\u2066", "\u200b", "\ufeff", "\x00", "\x1b", "ﷺ", "蠢", '"', "“", "”",
       "\n", "𠜎", "👩‍👩‍👧"]
TYPES = ["call.start", "utterance", "call.end", "tick", "feedback", "nope", ""]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


hostile_text = st.one_of(
    st.text(st.characters(codec=None), max_size=40),
    st.lists(st.sampled_from(ODD), max_size=20).map("".join),
    st.builds(lambda u, n: u * n, st.sampled_from([*ODD, "ab", "x"]), st.integers(1, 3000)),
)
numbers = st.one_of(st.integers(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                    st.just(10**300), st.sampled_from([0, -1, 2**53, 2**63, 2**64]))
scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_values = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=5),
                                                           st.dictionaries(hostile_text, kids, max_size=5)),
                           max_leaves=20)
call_ids = st.one_of(st.sampled_from(["f1", "f2", "f3"]), hostile_text)
events = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES), "call_id": call_ids},
    optional={"seq": st.one_of(numbers, hostile_text), "t_ms": numbers, "agent_id": st.one_of(
        st.just("a7"), hostile_text), "lang": hostile_text, "speaker": st.sampled_from(["agent", "customer", "x"]),
              "text": hostile_text, "start_ms": numbers, "end_ms": numbers, "final": st.booleans(),
              "utterance_id": hostile_text, "prompt_id": hostile_text, "action": hostile_text,
              "extra": json_values},
)


def encode(value: Any) -> str:
    try:
        return json.dumps(value)  # surrogates as \\ud800 escapes: valid text, hostile once decoded
    except (ValueError, RecursionError):
        return "[]"


frames = st.one_of(
    events.map(encode),
    st.lists(events, min_size=1, max_size=8).map(encode),
    json_values.map(encode),
    st.builds(lambda c, n: c * n, st.sampled_from(["[", "{", '{"a":', "[1,", "9"]), st.integers(1, 60_000)),
    st.text(max_size=200),
)


def answers_expected(frame: str) -> int:
    try:
        value = json.loads(frame)
    except (ValueError, RecursionError):
        return 1
    return len(value) if isinstance(value, list) else 1


class Running:
    """An AssistServer on its own event loop in a thread, with sync clients for the test."""

    def __init__(self, tmp: Path):
        self.config = ServerConfig(port=0, tokens=TOKENS, limits=Limits(max_message_bytes=MAX_BYTES * 2,
                                                                         agent_messages_per_s=100_000),
                                   log=CallLogSettings(path=str(tmp / "fuzz.db")))
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)
        self.thread.start()
        assert self.ready.wait(30)

    async def _main(self) -> None:
        self.stop = asyncio.Event()
        async with AssistServer(self.config, rules()) as srv:
            self.server = srv
            self.ready.set()
            await self.stop.wait()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)

    def url(self, path: str, token: str) -> str:
        return self.server.url(path, token, scheme="ws")

    def health(self) -> int:
        with urllib.request.urlopen(self.server.url("/healthz"), timeout=10) as r:
            return int(r.status)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    srv = Running(tmp_path_factory.mktemp("fuzz"))
    yield srv
    srv.close()


def test_hostile_frames_are_each_answered_and_the_server_stays_healthy(running: Running) -> None:
    with connect(running.url("/ingest", "cti-secret"), max_size=None) as ingest, \
            connect(running.url("/agent", "tok-a7"), max_size=None) as agent, \
            connect(running.url("/supervisor", "sup-secret"), max_size=None) as supervisor:
        json.loads(agent.recv(timeout=10))
        json.loads(supervisor.recv(timeout=10))
        fuzz_for(SECONDS, ingest, agent, supervisor)
        assert running.health() == 200
        # the connections still work after all of it
        ingest.send(json.dumps({"type": "call.start", "call_id": "after-fuzz", "t_ms": 0, "seq": 1}))
        assert json.loads(ingest.recv(timeout=20))["type"] == "ack"


def fuzz_for(seconds: float, ingest: ClientConnection, agent: ClientConnection,
             supervisor: ClientConnection) -> None:
    began = time.monotonic()
    before = rss_mb()
    counts = {"frames": 0, "answers": 0}

    def read(ws: ClientConnection, n: int) -> list[dict[str, Any]]:
        return [json.loads(ws.recv(timeout=20)) for _ in range(n)]

    # examples come at roughly 50/s here: this many fill the time budget, and the rest return at once
    @settings(max_examples=int(seconds * 60), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(frame=frames, to=st.sampled_from(["ingest"] * 8 + ["agent", "supervisor"]))
    def fuzz(frame: str, to: str) -> None:
        if time.monotonic() - began > seconds or len(frame.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            return
        counts["frames"] += 1
        if to == "ingest":
            ingest.send(frame)
            replies = read(ingest, answers_expected(frame))
            assert all(r["type"] in ("ack", "error") for r in replies), replies
            assert all(r["type"] == "ack" or r["message"] for r in replies)
        else:
            ws = agent if to == "agent" else supervisor
            ws.send(frame)
            while read(ws, 1)[0]["kind"] not in ("error", "feedback"):
                pass  # the live outputs of the calls the fuzzing opened, on their way to every view
        counts["answers"] += 1

    fuzz()
    assert counts["frames"] > 20 and counts["answers"] == counts["frames"], counts
    assert rss_mb() - before < 300, f"RSS grew from {before:.0f} to {rss_mb():.0f} MB over {counts['frames']} frames"
