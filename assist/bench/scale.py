"""Figures for scale-out mode (docs/scale-out.md), each on a redis-server this stage starts itself (a
temp dir, a free port, AOF everysec as recommended), with `assist gateway` and `assist worker` as
processes of their own:

- `scale_max_calls_p99_under_50ms`: the same ladder and load as `max_calls_p99_under_50ms`, through a
  gateway and two workers;
- `scale_events_per_s_1_worker` / `_2_workers` and `scale_workers_2_vs_1`: utterances per second the
  workers apply, for events already waiting in the partition streams (the gateway is not in the way);
- `takeover_s`: SIGKILL one of two workers holding 500 open calls: seconds until the other holds every
  partition and has rebuilt them (`takeover_lease_ms` beside it: most of it is the lease running out).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from assist.bench.durability import level_failure
from assist.bench.loadgen import CALLS_PER_INGEST, Latencies, measure
from assist.bench.stats import median, percentile, progress
from assist.bench.workload import example_scripts, workload
from assist.scale.keys import Keys, event_entry
from assist.scale.settings import connect

CALL_STEPS = (1000, 2000, 3000, 5000, 7500)
PARTITIONS = 64
ASSIST = [sys.executable, "-m", "assist"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found (Debian: apt-get install redis-server)")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
                             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                             "--protected-mode", "no", "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def _config(path: Path, calls: int, lease_ms: int = 6000) -> Path:
    config = {"host": "127.0.0.1", "tokens": {"cti": "cti", "agents": {f"a{i}": f"t{i}" for i in range(calls)}},
              "limits": {"max_calls": calls + 100, "max_events_per_s": 1_000_000, "queue_size": 256,
                         "connections_per_token": max(32, calls // CALLS_PER_INGEST + 8)},
              "redis": {"partitions": PARTITIONS, "lease_ms": lease_ms}, "logging": {"format": "json"}}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([*ASSIST, *args], stdout=out, stderr=out, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


async def _owners(url: str, keys: Keys) -> list[str | None]:
    client = connect(url)
    try:
        held = await client.mget([keys.lease(p) for p in range(keys.partitions)])
        return [None if v is None else str(v) for v in held]
    finally:
        await client.aclose()


async def _until_owned(url: str, keys: Keys, names: set[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while set(await _owners(url, keys)) != names:
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers {sorted(names)} did not share the partitions within {seconds:.0f} s")
        await asyncio.sleep(0.05)


def _workers(url: str, config: Path, tmp: Path, n: int) -> list[subprocess.Popen[bytes]]:
    return [_spawn(["worker", "--redis", url, "--config", str(config), "--name", f"w{i}"], tmp / f"w{i}.log")
            for i in range(n)]


# -- latency ladder ------------------------------------------------------------------------------------
async def _ladder_step(calls: int, seconds: float) -> Latencies:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with redis_server(tmp) as url:
            config = _config(tmp / "assist.yaml", calls)
            port = _free_port()
            procs = _workers(url, config, tmp, 2)
            procs.append(_spawn(["gateway", "--redis", url, "--config", str(config), "--port", str(port)],
                                tmp / "gateway.log"))
            try:
                await _until_owned(url, Keys("assist", PARTITIONS), {"w0", "w1"})
                got = await measure("e2e", port, calls, seconds)
            finally:
                _stop(procs)
    return got


def scale_max_calls(steps: tuple[int, ...] = CALL_STEPS, seconds: float = 15.0) -> dict[str, Any]:
    best = 0
    p99s: dict[str, float] = {}
    lost: dict[str, int] = {}
    stop = ""
    for calls in steps:
        progress(f"scale: {calls} calls through a gateway and 2 workers, {seconds:.0f} s")
        got = asyncio.run(_ladder_step(calls, seconds))
        p99s[str(calls)], lost[str(calls)] = round(percentile(got.samples, 0.99), 2), got.lost
        stop = level_failure(got)  # the same stop rule as the durability ladder's
        if stop:
            stop = f"{calls} calls: {stop}"
            break
        best = calls
    return {"scale_max_calls_p99_under_50ms": best, "scale_p99_ms_by_calls": p99s,
            "scale_lost_prompts_by_calls": lost, "scale_ladder_stop": stop or "every level passed"}


# -- worker throughput ---------------------------------------------------------------------------------
def _preload(calls: int, turns: int) -> list[dict[str, Any]]:
    starts, utts, ends = workload(example_scripts(), calls, turns, prefix="t")
    return starts + utts + ends


async def _push(url: str, keys: Keys, events: list[dict[str, Any]]) -> None:
    client = connect(url)
    try:
        for i in range(0, len(events), 2000):
            pipe = client.pipeline(transaction=False)
            for ev in events[i:i + 2000]:
                pipe.xadd(keys.inbound(keys.partition(ev["call_id"])),
                          event_entry(ev["call_id"], json.dumps(ev)))  # type: ignore[arg-type]
            await pipe.execute()
    finally:
        await client.aclose()


async def _applied(url: str, keys: Keys) -> bool:
    """Every partition's checkpoint is at its stream's last entry."""
    client = connect(url)
    try:
        pipe = client.pipeline(transaction=False)
        for p in range(keys.partitions):
            pipe.get(keys.checkpoint(p))
            pipe.xinfo_stream(keys.inbound(p))
        got = await pipe.execute(raise_on_error=False)
    finally:
        await client.aclose()
    for ckpt, info in zip(got[::2], got[1::2], strict=True):
        if isinstance(info, Exception):
            continue  # an empty partition
        if ckpt is None or str(ckpt) != str(info["last-generated-id"]):
            return False
    return True


async def _throughput(workers: int, events: list[dict[str, Any]], calls: int) -> float:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with redis_server(tmp) as url:
            config = _config(tmp / "assist.yaml", calls)
            keys = Keys("assist", PARTITIONS)
            procs = _workers(url, config, tmp, workers)
            try:
                await _until_owned(url, keys, {f"w{i}" for i in range(workers)})
                started = time.perf_counter()
                await _push(url, keys, events)
                while not await _applied(url, keys):
                    await asyncio.sleep(0.02)
                return len(events) / (time.perf_counter() - started)
            finally:
                _stop(procs)


def scale_throughput(calls: int = 1000, turns: int = 20, rounds: int = 3) -> dict[str, Any]:
    """Alternating rounds (1 worker, 2 workers, 1, 2, …) on a shared machine; medians."""
    events = _preload(calls, turns)
    rates: dict[int, list[float]] = {1: [], 2: []}
    for r in range(rounds):
        for n in (1, 2):
            progress(f"scale: {len(events)} events applied by {n} worker(s), round {r + 1} of {rounds}")
            rates[n].append(asyncio.run(_throughput(n, events, calls)))
    one, two = median(rates[1]), median(rates[2])
    return {"scale_events_per_s_1_worker": round(one), "scale_events_per_s_2_workers": round(two),
            "scale_workers_2_vs_1": round(two / one, 3)}


# -- takeover ------------------------------------------------------------------------------------------
def _rebuilt(log: Path) -> int:
    return sum("partition_rebuilt" in line for line in log.read_text(errors="replace").splitlines())


async def _takeover(calls: int, lease_ms: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with redis_server(tmp) as url:
            config = _config(tmp / "assist.yaml", calls, lease_ms)
            keys = Keys("assist", PARTITIONS)
            procs = _workers(url, config, tmp, 2)
            try:
                await _until_owned(url, keys, {"w0", "w1"})
                starts, utts, _ = workload(example_scripts(), calls, 10, prefix="o")
                await _push(url, keys, starts + utts)  # open calls: a takeover must rebuild them
                while not await _applied(url, keys):
                    await asyncio.sleep(0.05)
                held_by = await _owners(url, keys)
                client = connect(url)
                done = await client.mget([keys.checkpoint(p) for p in range(keys.partitions)])
                await client.aclose()
                lost = sum(owner == "w0" for owner in held_by)
                rebuild = sum(owner == "w0" and ckpt is not None for owner, ckpt in zip(held_by, done, strict=True))
                procs[0].send_signal(signal.SIGKILL)
                killed = time.perf_counter()
                held = None
                while True:
                    if held is None and set(await _owners(url, keys)) == {"w1"}:
                        held = time.perf_counter() - killed
                    if held is not None and _rebuilt(tmp / "w1.log") >= rebuild:  # a partition never written: none
                        break
                    if time.perf_counter() - killed > 60:
                        owners = Counter(await _owners(url, keys))
                        raise RuntimeError(f"no takeover within 60 s: leases {dict(owners)}, "
                                           f"{_rebuilt(tmp / 'w1.log')} of {rebuild} partitions rebuilt")
                    await asyncio.sleep(0.02)
                return {"takeover_s": round(time.perf_counter() - killed, 2), "takeover_leases_s": round(held, 2),
                        "takeover_lease_ms": lease_ms, "takeover_open_calls": calls, "takeover_partitions": lost}
            finally:
                _stop(procs)


def takeover(calls: int = 500, lease_ms: int = 6000) -> dict[str, Any]:
    progress(f"scale: SIGKILL one of two workers holding {calls} open calls (lease {lease_ms} ms)")
    return asyncio.run(_takeover(calls, lease_ms))


def run_scale_bench(steps: tuple[int, ...] = CALL_STEPS, step_seconds: float = 15.0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out.update(takeover())
    out.update(scale_throughput())
    out.update(scale_max_calls(steps, step_seconds))
    return out


if __name__ == "__main__":  # python -m assist.bench.scale [takeover|throughput|ladder]...
    parts = sys.argv[1:] or ["takeover", "throughput", "ladder"]
    result: dict[str, Any] = {}
    if "takeover" in parts:
        result.update(takeover())
    if "throughput" in parts:
        result.update(scale_throughput())
    if "ladder" in parts:
        result.update(scale_max_calls())
    print(json.dumps(result))
