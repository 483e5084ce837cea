"""The `calls` load generator on lean sockets (`assist.bench.wsframes`): `calls` concurrent calls
stream a short script into /ingest at real-call rate; the latency from writing the agent's measured
line to its prompt (e2e) or to the forwarded line (relay) arriving on that agent's socket.

What keeps the generator's CPU low while it measures: every frame is built and masked before the
measured window (a send is one `transport.write`); one task sends everything in time order; an
/ingest answer is counted, not decoded (an error answer is recognised by its `"error"`); an agent's
message is decoded only when it can be the prompt awaited on that socket; the collector stays off.

Beside the latencies it reports what a reader needs to trust them: events written in the window
against the events scheduled in it, how late the latest write was against its schedule, measured
lines whose prompt never came (`lost`), the messages the server dropped for a slow sidebar, the
generator's own CPU seconds in the window, and the CPU seconds the whole machine was busy meanwhile.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from assist.bench.wsframes import OP_TEXT, LeanSocket, client_frame, open_socket

STEP_S = 2.0          # one final utterance every 2 s per call
WARMUP_S = 2.0        # samples from the first seconds (connections settling) are not counted
GRACE_S = 0.5         # after the last write, the last prompts are on their way
CALLS_PER_INGEST = 50  # a CTI connection carries many calls
CONNECT_AT_ONCE = 50
HOST = "127.0.0.1"
MEASURED_STEP = 1
SCRIPT: list[tuple[str, str]] = [  # one call, 8 s: upset customer, agent apologises first → prompts
    ("customer", "This is ridiculous, I've waited two weeks!"),
    ("agent", "I'm sorry, can I have your order number?"),
    ("customer", "It's 58213."),
    ("agent", "Thank you, let me look at that for you now."),
]


def script_events(slot: int, cycle: int, step: int) -> list[dict[str, Any]]:
    """The events call slot `slot` sends at `step` of its `cycle`-th call."""
    call_id = f"b{slot}-{cycle}"
    speaker, text = SCRIPT[step]
    end_ms = step * 2000 + 1500
    out: list[dict[str, Any]] = []
    if step == 0:
        out.append({"type": "call.start", "call_id": call_id, "lang": "en", "t_ms": 0, "agent_id": f"a{slot}"})
    out.append({"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                "start_ms": end_ms - 1500, "end_ms": end_ms})
    if step == len(SCRIPT) - 1:
        out.append({"type": "call.end", "call_id": call_id, "t_ms": end_ms + 500})
    return out


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has been busy since boot (Linux /proc/stat; NaN elsewhere):
    beside the server's and the generator's own, it shows what other processes took during a run."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    except (OSError, ValueError):
        return float("nan")
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Tally:
    """What every socket of one run saw: latencies of measured lines, losses, answers."""

    def __init__(self, measured_from: float) -> None:
        self.measured_from = measured_from
        self.samples: list[float] = []
        self.lost = self.answers = self.refused = self.dropped = 0


class AgentSocket(LeanSocket):
    """A sidebar's socket: at most one measured line awaits its prompt (or, relayed, itself) here."""

    def __init__(self, tally: Tally, mode: str, token: str, port: int) -> None:
        super().__init__(HOST, port, "/agent", {"Authorization": f"Bearer {token}"})
        self.tally, self.relay = tally, mode == "relay"
        self.awaited: tuple[str, int, bytes] | None = None  # call id, t_ms, the line as sent
        self.sent_at = 0.0

    def expect(self, call_id: str, t_ms: int, line: bytes, now: float) -> None:
        if self.awaited is not None and self.sent_at >= self.tally.measured_from:
            self.tally.lost += 1  # the previous line's prompt never came
        self.awaited, self.sent_at = (call_id, t_ms, line), now

    def on_text(self, now: float, payload: bytes) -> None:
        if b'"dropped"' in payload and json.loads(payload).get("kind") == "dropped":
            self.tally.dropped += 1
        if self.awaited is None:
            return
        call_id, t_ms, line = self.awaited
        if self.relay:
            if payload != line:
                return
        elif b'"prompt"' not in payload:
            return
        else:
            msg = json.loads(payload)
            if msg.get("kind") != "prompt" or msg.get("call_id") != call_id or msg.get("t_ms") != t_ms:
                return
        if self.sent_at >= self.tally.measured_from:
            self.tally.samples.append((now - self.sent_at) * 1000)
        self.awaited = None

    def unanswered(self) -> int:
        return int(self.awaited is not None and self.sent_at >= self.tally.measured_from)


class IngestSocket(LeanSocket):
    """A CTI link: its answers are counted, and error answers among them."""

    def __init__(self, tally: Tally, port: int) -> None:
        super().__init__(HOST, port, "/ingest", {"Authorization": "Bearer cti"})
        self.tally = tally

    def on_text(self, now: float, payload: bytes) -> None:
        self.tally.answers += 1
        if b'"error"' in payload:
            self.tally.refused += 1


# offset s, ingest link, frame, agent slot (-1: not a measured line), call id, t_ms, the line as sent
Send = tuple[float, int, bytes, int, str, int, bytes]


def schedule(calls: int, seconds: float, links: int) -> Iterator[Send]:
    """Every write of the run, as offsets from its start; the first write of each call spread over
    one step so the run does not open with a burst."""
    for slot in range(calls):
        start = random.uniform(0, STEP_S)
        for n in range(int(seconds / STEP_S) + 1):
            at = start + n * STEP_S
            if at >= seconds:
                break
            cycle, step = divmod(n, len(SCRIPT))
            for ev in script_events(slot, cycle, step):
                line = json.dumps(ev).encode()
                measured = step == MEASURED_STEP and ev["type"] == "utterance"
                yield (at, slot % links, client_frame(OP_TEXT, line), slot if measured else -1,
                       ev["call_id"], ev.get("end_ms", -1), line)


async def _open_all(sockets: Sequence[LeanSocket], port: int) -> None:
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one(sock: LeanSocket) -> None:
        async with gate:
            await open_socket(sock, HOST, port)

    await asyncio.gather(*(one(s) for s in sockets))


async def run_calls(mode: str, port: int, calls: int, seconds: float, warmup: float = WARMUP_S,
                    hold: Callable[[], Awaitable[None]] | None = None) -> dict[str, Any]:
    """Open every socket, write the script for `seconds` (measuring after `warmup`), await `hold()`
    with every socket still open, return the latencies and the window's figures."""
    tally = Tally(measured_from=float("inf"))
    agents = [AgentSocket(tally, mode, f"t{i}", port) for i in range(calls)]
    await _open_all(agents, port)
    ingests = [IngestSocket(tally, port) for _ in range(max(1, calls // CALLS_PER_INGEST))]
    await _open_all(ingests, port)
    sends = sorted(schedule(calls, seconds, len(ingests)), key=lambda s: s[0])
    gc.collect()
    gc.freeze()   # the sockets and frames stay for the whole run: no collection need walk them
    gc.disable()  # nothing the run makes is cyclic
    t0 = time.monotonic() + 0.5
    tally.measured_from = measure_from = t0 + warmup
    deadline = t0 + seconds
    intended = sum(1 for s in sends if t0 + s[0] >= measure_from)
    written = 0
    late_max = 0.0
    cpu_from = busy_from = 0.0
    for offset, link, frame, slot, call_id, t_ms, line in sends:
        at = t0 + offset
        now = time.monotonic()
        if at > now:
            await asyncio.sleep(at - now)
            now = time.monotonic()
        if at >= measure_from:
            if not cpu_from:
                cpu_from, busy_from = time.process_time(), machine_busy_s()
            late_max = max(late_max, now - at)
            written += now < deadline
        if slot >= 0:
            agents[slot].expect(call_id, t_ms, line, now)
        ingests[link].send(frame)
    await asyncio.sleep(max(GRACE_S, deadline + GRACE_S - time.monotonic()))
    until = time.monotonic()
    cpu_s, machine_cpu_s = time.process_time() - cpu_from, machine_busy_s() - busy_from
    lost = tally.lost + sum(a.unanswered() for a in agents)
    gc.enable()
    if hold is not None:
        await hold()
    await _close_all([*agents, *ingests])
    window = deadline - measure_from
    return {"samples": tally.samples, "measured_from": measure_from, "until": until, "deadline": deadline,
            "events": intended,
            "events_sent": written, "events_per_s_intended": intended / window, "events_per_s_sent": written / window,
            "send_late_max_ms": late_max * 1000, "lost": lost, "answers": tally.answers, "refused": tally.refused,
            "dropped": tally.dropped, "cpu_s": cpu_s, "machine_cpu_s": machine_cpu_s,
            "cpu_cores": cpu_s / (until - measure_from)}


async def _close_all(sockets: list[LeanSocket], timeout: float = 10.0) -> None:
    """The closing handshake on every socket; whatever has not ended within `timeout` is cut."""
    for sock in sockets:
        sock.close()
    await asyncio.wait([sock.closed for sock in sockets], timeout=timeout)
    for sock in sockets:
        if sock.transport is not None and not sock.closed.done():
            sock.transport.abort()
