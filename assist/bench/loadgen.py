"""The load generators, each run as a process of its own (`python -m assist.bench.loadgen …`): it
competes for the same cores either way, but it does not stall the server's event loop.

- `calls`: `calls` concurrent calls stream a short script into /ingest at real-call rate (one final
  utterance every ~2 s per call); the latency from sending the agent's "I'm sorry, can I have your
  order number?" to its prompt (e2e) or to the forwarded message (relay) on that agent's socket;
- `blast`: pipelined single-event messages on several connections; acked events per second;
- `burst`: a CTI link's backlog after a reconnect, `BURST_EVENTS` events sent on one connection
  without waiting for any ack; how fast they are all answered, and how many were refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
import sys
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from assist.bench.callgen import run_calls
from assist.server import eventloop

STEP_S = 2.0          # one final utterance every 2 s per call
WARMUP_S = 2.0        # samples from the first seconds (connections settling) are not counted
CALLS_PER_INGEST = 50  # a CTI connection carries many calls
CONNECT_AT_ONCE = 50
MAX_SAMPLES = 1_000_000
MEASURED_STEP = 1
SCRIPT: list[tuple[str, str]] = [  # one call, 8 s: upset customer, agent apologises first → prompts
    ("customer", "This is ridiculous, I've waited two weeks!"),
    ("agent", "I'm sorry, can I have your order number?"),
    ("customer", "It's 58213."),
    ("agent", "Thank you, let me look at that for you now."),
]
BLAST_CONNECTIONS = 8
BLAST_WINDOW = 64      # unacked events in flight per connection
BLAST_CALLS = 50       # calls per connection, round robin
BLAST_TURNS = 20
BLAST_TEXTS = [("customer", "This is ridiculous, I've waited two weeks!"),
               ("agent", "I'm sorry, can I have your order number?"),
               ("customer", "It's 58213, and I want a refund now."),
               ("agent", "I understand how frustrating that is. Let me check that for you.")]
BURST_EVENTS = 10_000  # a backlog: 500 calls of 20 events (start, 18 utterances, end)
BURST_TURNS = 18


@dataclass(frozen=True)
class Latencies:
    """One run of the `calls` generator: latencies in ms, and the measured window in
    `time.monotonic()` seconds (the same clock in every process on the machine)."""

    samples: list[float]
    measured_from: float
    until: float
    events: int  # events scheduled in the measured window
    events_sent: int = 0     # of those, written before the window's end (a generator behind shows here)
    send_late_max_ms: float = 0.0  # the latest write in the window against its schedule
    lost: int = 0            # measured lines whose prompt never came
    refused: int = 0         # /ingest error answers
    dropped: int = 0         # `dropped` notices on agent sockets (a queue full)
    cpu_s: float = 0.0       # the generator's CPU seconds in the window
    deadline: float = 0.0    # the end of the writes' window (then a grace for the last prompts until `until`)

    @classmethod
    def of(cls, got: dict[str, Any]) -> Latencies:
        return cls(got["samples"], got["measured_from"], got["until"], got["events"], got.get("events_sent", 0),
                   got.get("send_late_max_ms", 0.0), got.get("lost", 0), got.get("refused", 0),
                   got.get("dropped", 0), got.get("cpu_s", 0.0), got.get("deadline", got["until"] - 0.5))

    @property
    def events_per_s_intended(self) -> float:
        return self.events / max(1e-9, self.deadline - self.measured_from)

    @property
    def events_per_s_sent(self) -> float:
        return self.events_sent / max(1e-9, self.deadline - self.measured_from)


def _events(slot: int, cycle: int, step: int) -> list[dict[str, Any]]:
    """The events call slot `slot` sends at `step` of its `cycle`-th call."""
    call_id = f"b{slot}-{cycle}"
    speaker, text = SCRIPT[step]
    end_ms = step * 2000 + 1500
    out: list[dict[str, Any]] = []
    if step == 0:
        out.append({"type": "call.start", "call_id": call_id, "lang": "en", "t_ms": 0,
                    "agent_id": f"a{slot}"})
    out.append({"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                "start_ms": end_ms - 1500, "end_ms": end_ms})
    if step == len(SCRIPT) - 1:
        out.append({"type": "call.end", "call_id": call_id, "t_ms": end_ms + 500})
    return out


async def _calls(mode: str, port: int, calls: int, seconds: float) -> dict[str, Any]:
    """Open every socket, stream the script for `seconds`, return latencies in ms and the window."""
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def open_ws(path: str, token: str) -> ClientConnection:
        async with gate:
            return await connect(f"ws://127.0.0.1:{port}{path}", additional_headers={
                "Authorization": f"Bearer {token}"}, open_timeout=60, close_timeout=1)

    agents = await asyncio.gather(*(open_ws("/agent", f"t{i}") for i in range(calls)))
    n_ingest = max(1, calls // CALLS_PER_INGEST)
    ingests = await asyncio.gather(*(open_ws("/ingest", "cti") for _ in range(n_ingest)))
    gc.freeze()  # the sockets stay open for the whole run: no full collection need walk them
    sent: dict[tuple[str, int], float] = {}
    samples: list[float] = []
    events = written = 0
    late_max = 0.0
    cpu_from: list[float] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.5
    measure_from, deadline = t0 + WARMUP_S, t0 + seconds

    async def read_agent(ws: ClientConnection) -> None:
        async for raw in ws:
            now = loop.time()
            msg = json.loads(raw)
            if mode == "e2e" and msg.get("kind") != "prompt":
                continue
            t = msg.get("t_ms") if mode == "e2e" else msg.get("end_ms")
            at = sent.pop((msg.get("call_id", ""), t if isinstance(t, int) else -1), None)
            if at is not None and at >= measure_from and len(samples) < MAX_SAMPLES:
                samples.append((now - at) * 1000)

    async def drain(ws: ClientConnection) -> None:
        async for _ in ws:
            pass

    async def call_slot(slot: int) -> None:
        nonlocal events
        ws = ingests[slot % len(ingests)]
        start = t0 + random.uniform(0, STEP_S)  # spread the first sends so the run does not open with a burst
        for n in range(int(seconds / STEP_S) + 1):
            at = start + n * STEP_S
            if at >= deadline:
                return
            await asyncio.sleep(max(0.0, at - loop.time()))
            nonlocal written, late_max
            if at >= measure_from and not cpu_from:
                cpu_from.append(time.process_time())
            cycle, step = divmod(n, len(SCRIPT))
            if at >= measure_from:
                events += len(_events(slot, cycle, step))
                late_max = max(late_max, (loop.time() - at) * 1000)
            for ev in _events(slot, cycle, step):
                if step == MEASURED_STEP and ev["type"] == "utterance":
                    sent[(ev["call_id"], ev["end_ms"])] = loop.time()
                await ws.send(json.dumps(ev))
                if loop.time() >= measure_from:
                    written += 1

    readers = [asyncio.create_task(read_agent(ws)) for ws in agents]
    readers += [asyncio.create_task(drain(ws)) for ws in ingests]
    await asyncio.gather(*(call_slot(i) for i in range(calls)))
    await asyncio.sleep(0.5)  # the last prompts are on their way
    until = loop.time()
    cpu_s = time.process_time() - (cpu_from[0] if cpu_from else 0.0)
    lost = sum(1 for at in sent.values() if at >= measure_from)
    for task in readers:
        task.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in [*agents, *ingests]),
                                              return_exceptions=True), 10)
    return {"samples": samples, "measured_from": measure_from, "until": until, "events": events,
            "events_sent": written, "lost": lost, "cpu_s": cpu_s, "send_late_max_ms": late_max}


async def _blast(port: int, seconds: float) -> float:
    """Pipelined single-event messages on several connections; acked events/s."""
    acked = 0
    loop = asyncio.get_running_loop()

    async def connection(c: int, deadline: float) -> None:
        nonlocal acked
        window = asyncio.Semaphore(BLAST_WINDOW)
        async with connect(f"ws://127.0.0.1:{port}/ingest", additional_headers={"Authorization": "Bearer cti"},
                           close_timeout=1) as ws:
            async def read() -> None:
                nonlocal acked
                async for _ in ws:
                    acked += 1
                    window.release()

            reader = asyncio.create_task(read())
            cycle = 0
            while loop.time() < deadline:
                for step in range(BLAST_TURNS + 2):
                    for k in range(BLAST_CALLS):
                        call_id = f"x{c}-{k}-{cycle}"
                        if step == 0:
                            ev: dict[str, Any] = {"type": "call.start", "call_id": call_id, "lang": "en",
                                                  "t_ms": 0, "agent_id": f"a{k}"}
                        elif step <= BLAST_TURNS:
                            speaker, text = BLAST_TEXTS[(step - 1) % len(BLAST_TEXTS)]
                            ev = {"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                                  "start_ms": step * 2000, "end_ms": step * 2000 + 1500, "seq": step}
                        else:
                            ev = {"type": "call.end", "call_id": call_id, "t_ms": step * 2000}
                        await window.acquire()
                        await ws.send(json.dumps(ev))
                cycle += 1
            reader.cancel()

    deadline = loop.time() + 1.0 + seconds
    tasks = [asyncio.create_task(connection(c, deadline)) for c in range(BLAST_CONNECTIONS)]
    await asyncio.sleep(1.0)  # warm-up: connections open, first calls started
    measured_from, before = loop.time(), acked
    await asyncio.gather(*tasks, return_exceptions=True)
    return (acked - before) / max(1e-9, loop.time() - measured_from)


def _burst_events(events: int) -> list[dict[str, Any]]:
    """`events` native events of calls of BURST_TURNS utterances, interleaved as a link carries them."""
    per_call = BURST_TURNS + 2
    out: list[dict[str, Any]] = []
    for step in range(per_call):
        for k in range(events // per_call):
            call_id, seq = f"burst-{k}", step + 1
            if step == 0:
                out.append({"type": "call.start", "call_id": call_id, "lang": "en", "t_ms": 0,
                            "agent_id": f"a{k}", "seq": seq})
            elif step <= BURST_TURNS:
                speaker, text = BLAST_TEXTS[(step - 1) % len(BLAST_TEXTS)]
                out.append({"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
                            "start_ms": step * 2000, "end_ms": step * 2000 + 1500, "seq": seq})
            else:
                out.append({"type": "call.end", "call_id": call_id, "t_ms": step * 2000, "seq": seq})
    return out


async def _burst(port: int, events: int, timeout: float) -> dict[str, Any]:
    """Send every event on one connection at once; wait (at most `timeout` s) until each is answered."""
    frames = [json.dumps(ev) for ev in _burst_events(events)]
    answers: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    async with connect(f"ws://127.0.0.1:{port}/ingest", additional_headers={"Authorization": "Bearer cti"},
                       close_timeout=1, max_queue=None) as ws:
        async def read() -> None:
            async for raw in ws:
                reply = json.loads(raw)
                kind = reply.get("code") or ("duplicate" if reply.get("duplicate") else reply.get("type"))
                answers[str(kind)] = answers.get(str(kind), 0) + 1
                if sum(answers.values()) >= len(frames):
                    return

        started = loop.time()
        reader = asyncio.create_task(read())
        for frame in frames:  # no window: the server's flow control is what slows this sender
            await ws.send(frame)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, timeout)
        elapsed = loop.time() - started
    answered = sum(answers.values())
    return {"events": len(frames), "answered": answered, "answers": answers,
            "events_per_s": answered / max(1e-9, elapsed)}


async def _run(args: list[str], timeout: float, what: str) -> Any:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assist.bench.loadgen", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise TimeoutError(f"the {what} load generator gave no result within {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the {what} load generator failed: {err.decode()[-2000:]}")
    return json.loads(out)


async def measure(mode: str, port: int, calls: int, seconds: float) -> Latencies:
    """Run the `calls` generator (mode "e2e" or "relay") against the server on `port`."""
    got = await _run(["calls", mode, str(port), str(calls), str(seconds)], seconds + 180, mode)
    return Latencies.of(got)


async def burst(port: int, events: int = BURST_EVENTS, timeout: float = 120.0) -> dict[str, Any]:
    """Run the `burst` generator against the server on `port`: events/s until all are answered, and
    the count of each kind of answer (ack, duplicate, or an error code such as rate_limited)."""
    got: dict[str, Any] = await _run(["burst", str(port), str(events), str(timeout)], timeout + 60, "burst")
    return got


async def blast(port: int, seconds: float) -> float:
    """Run the `blast` generator against the server on `port`; acked events per second."""
    rate: float = await _run(["blast", str(port), str(seconds)], seconds + 120, "throughput")
    return rate


if __name__ == "__main__":
    if sys.argv[1:2] == ["calls"]:
        mode, port, n, secs = sys.argv[2:6]
        print(json.dumps(eventloop.run(run_calls(mode, int(port), int(n), float(secs)))))
    elif sys.argv[1:2] == ["calls-ws"]:
        mode, port, n, secs = sys.argv[2:6]
        print(json.dumps(asyncio.run(_calls(mode, int(port), int(n), float(secs)))))
    elif sys.argv[1:2] == ["blast"]:
        with contextlib.suppress(KeyboardInterrupt):
            print(json.dumps(asyncio.run(_blast(int(sys.argv[2]), float(sys.argv[3])))))
    elif sys.argv[1:2] == ["burst"]:
        print(json.dumps(asyncio.run(_burst(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))))
    else:
        sys.exit("usage: python -m assist.bench.loadgen calls e2e|relay PORT CALLS SECONDS | blast PORT SECONDS"
                 " | burst PORT EVENTS TIMEOUT")
