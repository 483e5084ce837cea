"""The load generators, each run as a process of its own (`python -m assist.bench.loadgen …`): it
competes for the same cores either way, but it does not stall the server's event loop.

- `calls` (`assist.bench.callgen`, on lean sockets that leave the cores to the server): `calls`
  concurrent calls stream a short script into /ingest at real-call rate (one final utterance every
  ~2 s per call); the latency from sending the agent's "I'm sorry, can I have your order number?" to
  its prompt (e2e) or to the forwarded message (relay) on that agent's socket;
- `blast`: pipelined single-event messages on several connections; acked events per second;
- `burst`: a CTI link's backlog after a reconnect, `BURST_EVENTS` events sent on one connection
  without waiting for any ack; how fast they are all answered, and how many were refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from assist.bench.callgen import CALLS_PER_INGEST, run_calls
from assist.server import eventloop

RESULT_ENV = "ASSIST_LOADGEN_RESULT"  # where a generator process writes its result (JSON)
HOLD_ENV = "ASSIST_LOADGEN_HOLD"  # set: the calls generator says OPEN_LINE and keeps its sockets until stdin ends
OPEN_LINE = b"sockets open\n"
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
    until: float           # the window's end: the last write's deadline plus a grace for its prompt
    deadline: float        # the end of the writes' window
    events: int            # events scheduled in the window
    events_sent: int       # of those, written before its deadline (a generator behind shows here)
    send_late_max_ms: float  # the latest write in the window against its schedule
    lost: int              # measured lines whose prompt (or relayed line) never came: not in `samples`
    refused: int           # /ingest error answers
    dropped: int           # `dropped` notices on agent sockets (a sidebar's queue was full)
    cpu_s: float           # the generator's CPU seconds in the window
    machine_cpu_s: float   # CPU seconds the machine's cores were busy in the window, whoever used them

    @classmethod
    def of(cls, got: dict[str, Any]) -> Latencies:
        """From the generator's JSON (`callgen.run_calls`)."""
        return cls(**{f.name: got[f.name] for f in fields(cls)})

    @property
    def events_per_s_intended(self) -> float:
        return self.events / max(1e-9, self.deadline - self.measured_from)

    @property
    def events_per_s_sent(self) -> float:
        return self.events_sent / max(1e-9, self.deadline - self.measured_from)


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


async def _run(args: list[str], timeout: float, what: str, while_open: Callable[[], None] | None = None) -> Any:
    """Run one generator process; its result comes back in a file of its own (RESULT_ENV), so that
    nothing else the process may write on stdout can mix into it. With `while_open`, the process keeps
    its sockets open after its run until `while_open()` has run here (see `measure`)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        env = {**os.environ, RESULT_ENV: str(result)}
        if while_open is not None:
            env[HOLD_ENV] = "1"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "assist.bench.loadgen", *args, env=env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(_talk(proc, while_open), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise TimeoutError(f"the {what} load generator gave no result within {timeout:.0f} s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"the {what} load generator failed: {err.decode()[-2000:]}")
        text = result.read_text(encoding="utf-8") if result.exists() else ""
    try:
        return json.loads(text)
    except ValueError as exc:
        said = f"stdout {out.decode(errors='replace')[-500:]!r}, stderr {err.decode(errors='replace')[-500:]!r}"
        raise RuntimeError(f"the {what} load generator's result is not JSON ({exc}); it wrote {said}") from None


async def _talk(proc: asyncio.subprocess.Process, while_open: Callable[[], None] | None) -> tuple[bytes, bytes]:
    """Wait for the process's OPEN_LINE (when `while_open` is given), run `while_open`, then end its
    stdin (which lets it close its sockets and finish) and collect what it wrote."""
    assert proc.stdin is not None and proc.stdout is not None
    before = b""
    if while_open is not None:
        while line := await proc.stdout.readline():  # b"" when it ended without saying it (then no hook)
            if line == OPEN_LINE:
                while_open()
                break
            before += line
    proc.stdin.close()
    out, err = await proc.communicate()
    return before + out, err


async def hold_sockets(timeout: float = 120.0) -> None:
    """In a calls generator run with HOLD_ENV: say OPEN_LINE on stdout and return once stdin ends (the
    parent is done with the open sockets) or after `timeout`."""
    if not os.environ.get(HOLD_ENV):
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        sys.stdout.buffer.write(OPEN_LINE)
        sys.stdout.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(), timeout)
    finally:
        transport.close()


def _result(value: Any) -> None:
    """Hand the result to the parent: the file it named, or stdout when run by hand."""
    text = json.dumps(value)
    if path := os.environ.get(RESULT_ENV):
        Path(path).write_text(text, encoding="utf-8")
    else:
        print(text)


async def measure(mode: str, port: int, calls: int, seconds: float,
                  while_open: Callable[[], None] | None = None) -> Latencies:
    """Run the `calls` generator (mode "e2e" or "relay") against the server on `port`. `while_open`,
    if given, runs in this process after the measured window, while the generator's sockets (every
    call's sidebar, the /ingest links) are still open: what it measures sees the server as loaded."""
    got = await _run(["calls", mode, str(port), str(calls), str(seconds)], seconds + 180, mode, while_open)
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


__all__ = ["CALLS_PER_INGEST", "Latencies", "blast", "burst", "measure"]

if __name__ == "__main__":
    if sys.argv[1:2] == ["calls"]:
        mode, port, n, secs = sys.argv[2:6]
        _result(eventloop.run(run_calls(mode, int(port), int(n), float(secs), hold=hold_sockets)))
    elif sys.argv[1:2] == ["blast"]:
        with contextlib.suppress(KeyboardInterrupt):
            _result(asyncio.run(_blast(int(sys.argv[2]), float(sys.argv[3]))))
    elif sys.argv[1:2] == ["burst"]:
        _result(asyncio.run(_burst(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))))
    else:
        sys.exit("usage: python -m assist.bench.loadgen calls e2e|relay PORT CALLS SECONDS | blast PORT SECONDS"
                 " | burst PORT EVENTS TIMEOUT")
