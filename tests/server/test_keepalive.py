"""The server's one keepalive sweep (server/keepalive.py) does what websockets' per-connection keepalive
did: a socket that stops answering pings is closed with 1011 "keepalive ping timeout", and sockets that
answer stay open however many pings go by."""

from __future__ import annotations

import asyncio

from serverkit import agent, ingest, recv_until, run, send, server, start


def test_a_sidebar_that_stops_answering_pings_is_closed_and_the_others_stay_open() -> None:
    async def scenario() -> None:
        async with server(ping_interval_s=0.1, ping_timeout_s=0.1) as srv:
            cti = await ingest(srv)
            alive, dead = await agent(srv, "a7"), await agent(srv, "a8")
            assert srv.health()["connections"] == {"cti": 1, "agent": 2, "supervisor": 0}
            dead.transport.pause_reading()  # a sidebar whose machine went to sleep: pings pile up unanswered
            async with asyncio.timeout(10):
                while len(srv.keepalive) > 2:  # the sweep gave up on it (it failed the connection)
                    await asyncio.sleep(0.05)
            dead.transport.resume_reading()  # what the server wrote meanwhile: pings, then its close
            async with asyncio.timeout(10):
                await dead.wait_closed()
            assert (dead.close_code, dead.close_reason) == (1011, "keepalive ping timeout")
            async with asyncio.timeout(10):
                while srv.health()["connections"]["agent"] != 1:
                    await asyncio.sleep(0.05)
            # many ping intervals went by: the sockets that answer them are open and working
            assert (await send(cti, start("c1", "a7")))["type"] == "ack"
            got, _ = await recv_until(alive, lambda m: m["kind"] == "call")
            assert (got["call_id"], got["status"]) == ("c1", "started")
            assert srv.health()["connections"] == {"cti": 1, "agent": 1, "supervisor": 0}
            await alive.close()
            await cti.close()

    run(scenario())
