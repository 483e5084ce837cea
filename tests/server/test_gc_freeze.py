"""What survives a second is frozen out of the garbage collector's walks (server/gctune.py). Frozen
objects are freed by their reference counts like any other; what must not happen is garbage that
only a collection could free piling up in the frozen generation. These tests show that sockets
closed in every way and ended calls leave nothing there, and that the server's bound on it holds
(closed sockets still held after a whole interval are freed once there are more than the bound)."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections import Counter

from serverkit import ANGRY, agent, end, feedback, ingest, raise_prompts, recv_until, run, say, send, server, start
from websockets.asyncio.client import connect

from assist.server import eventloop
from assist.server.app import AssistServer
from assist.server.gctune import QuietGC, end_parser


async def one_round(srv: AssistServer) -> None:
    """Sockets opened and closed in every way, a call with prompts and feedback started and ended, and
    the server's freezing steps taken while all of it was alive."""
    quiet = srv._gc
    assert quiet is not None
    cti, cti_vanished = await ingest(srv), await ingest(srv)
    polite, vanished, asleep = await agent(srv, "a7"), await agent(srv, "a8"), await agent(srv, "a9")
    supervisor = await connect(srv.url("/supervisor", "sup-secret", scheme="ws"))
    assert (await send(cti, start("f1", "a7")))["type"] == "ack"
    await raise_prompts(cti, "f1")
    prompt, _ = await recv_until(polite, lambda m: m["kind"] == "prompt" and m.get("t_ms") is not None)
    await feedback(polite, prompt["id"], "helpful")
    await recv_until(polite, lambda m: m["kind"] == "feedback")
    assert (await send(cti_vanished, start("f2", "a8")))["type"] == "ack"
    await cti_vanished.send(json.dumps(say("f2", "customer", ANGRY, 3000)))  # its answer is never read
    quiet.age()  # everything above is frozen now, mid-life
    asleep.transport.pause_reading()  # the keepalive closes it (1011)
    async with asyncio.timeout(10):
        while len(srv.keepalive) > 5:
            await asyncio.sleep(0.05)
    asleep.transport.resume_reading()
    assert (await send(cti, end("f1", 20_000)))["type"] == "ack"
    assert (await send(cti, end("f2", 20_000)))["type"] == "ack"
    await polite.close()                 # a normal close
    vanished.transport.abort()           # a sidebar that vanished (no close handshake)
    cti_vanished.transport.abort()       # a CTI link that vanished with an answer in flight
    await supervisor.close()
    await cti.close()
    async with asyncio.timeout(10):
        await asyncio.gather(asleep.wait_closed(), vanished.wait_closed())
        while any(srv.health()["connections"].values()) or srv.hub.calls:
            await asyncio.sleep(0.05)
    for client in (cti, cti_vanished, polite, vanished, asleep, supervisor):  # the clients live in this process
        end_parser(client.protocol)  # too: their protocols keep the cycles the server breaks in its own
    quiet.age()


def test_closed_sockets_and_ended_calls_leave_nothing_in_the_frozen_generation() -> None:
    async def scenario() -> None:
        gc.unfreeze()  # what earlier tests in this process froze and left is not this test's garbage
        gc.collect()
        async with server(ping_interval_s=0.1, ping_timeout_s=0.1) as srv:
            quiet = srv._gc
            assert quiet is not None and quiet.freeze_every_s > 0
            await one_round(srv)  # the first round also fills caches that live as long as the process
            for _ in range(2):
                quiet.full()
            for _ in range(3):
                await one_round(srv)
            quiet.full()  # the sockets closed since the last one are watched from here
            quiet.full()  # and must be gone here
            assert (quiet.leaked, quiet.refreshes) == (0, 0)
            # nothing frozen is garbage: a collection of everything finds none
            gc.unfreeze()
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                gc.collect()
                garbage = Counter(type(o).__qualname__ for o in gc.garbage)
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
                gc.freeze()
            assert not garbage, f"frozen garbage left by closed sockets and ended calls: {garbage}"

    eventloop.run(asyncio.wait_for(scenario(), 60))  # on uvloop, as `assist serve` runs where it can


class Cycle:
    """Garbage only a collection frees."""

    def __init__(self) -> None:
        self.me = self


def test_closed_sockets_held_by_frozen_cycles_are_freed_once_more_than_the_bound_are() -> None:
    async def scenario() -> None:
        quiet = QuietGC(full_every_s=3600, freeze_every_s=3600, leaked_sockets=2)
        quiet.start()
        try:
            leaks = [Cycle() for _ in range(3)]
            for leak in leaks:
                quiet.closed(leak)  # stands for a closed socket's connection
            quiet.age()  # frozen while alive
            refs = [weakref.ref(leak) for leak in leaks]
            del leaks, leak
            gc.collect()
            assert all(ref() is not None for ref in refs)  # frozen garbage: a collection does not walk it
            quiet.full()
            assert all(ref() is not None for ref in refs) and quiet.refreshes == 0  # closed only just now
            quiet.full()  # a whole interval later they are still there: 3 over the bound of 2
            assert [ref() for ref in refs] == [None, None, None]
            assert (quiet.leaked, quiet.refreshes) == (3, 1)
        finally:
            quiet.stop()

    run(scenario())


def test_frozen_garbage_of_any_kind_is_freed_once_the_refresh_interval_has_passed() -> None:
    """The watch sees only closed sockets; any other frozen cycle waits at most `gc_refresh_every_s`."""
    async def scenario() -> None:
        quiet = QuietGC(full_every_s=3600, freeze_every_s=3600, refresh_every_s=0.3)
        quiet.start()
        try:
            leak = Cycle()  # no socket: the watch never hears of it
            quiet.age()
            ref = weakref.ref(leak)
            del leak
            quiet.full()
            assert ref() is not None and quiet.refreshes == 0  # frozen, and the interval has not passed
            await asyncio.sleep(0.4)
            quiet.full()
            assert ref() is None and quiet.refreshes == 1
        finally:
            quiet.stop()

    run(scenario())
