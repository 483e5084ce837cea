"""One /ingest connection's stream, with real websockets clients on loopback: answers in order,
fragments, bad UTF-8, and a CTI that sends far faster than it reads its answers."""

from __future__ import annotations

import asyncio
import json

from serverkit import ingest, recv, run, say, server, start
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Frame, Opcode

EVENTS = 100  # per message: each `{}` is answered with an error frame of its own (~25 kB of answers a message)
FILLER = "[" + ",".join(["{}"] * EVENTS) + "]" + " " * 60_000  # and 60 kB in: both directions fill soon
MAX_SENT = 2_000  # 120 MB: far more than the socket buffers of loopback hold


def test_events_sent_without_waiting_are_answered_in_order_batches_included() -> None:
    async def scenario() -> None:
        async with server() as srv:
            cti = await ingest(srv)
            await cti.send(json.dumps(start("c1", seq=1)))
            for seq in range(2, 40):  # all in flight at once: several arrive in one read
                await cti.send(json.dumps(say("c1", "customer", f"line {seq}", seq * 1000, seq=seq)))
            await cti.send(json.dumps([say("c1", "agent", "ok", 41_000, seq=41), {"type": "nope", "seq": 42}]))
            answers = [await recv(cti) for _ in range(41)]
            assert [a["seq"] for a in answers] == [*range(1, 40), 41, 42]
            assert all(a["type"] == "ack" for a in answers[:40])
            assert answers[40]["type"] == "error" and answers[40]["index"] == 1
            await cti.close()

    run(scenario())


def test_a_fragmented_message_is_applied_as_one_event() -> None:
    async def scenario() -> None:
        async with server() as srv:
            cti = await ingest(srv)
            text = json.dumps(start("c1", seq=7))
            await cti.send([text[:10], text[10:25], text[25:]])  # three frames: text, continuation, continuation
            assert await recv(cti) == {"type": "ack", "seq": 7, "call_id": "c1"}
            await cti.close()

    run(scenario())


def test_invalid_utf8_in_a_text_frame_closes_that_connection_with_1007_only() -> None:
    async def scenario() -> None:
        async with server() as srv:
            bad, good = await ingest(srv), await ingest(srv)
            bad.protocol.send_frame(Frame(Opcode.TEXT, b'{"type": "call.start", "call_id": "\xff"}'))
            bad.transport.write(b"".join(bad.protocol.data_to_send()))
            await asyncio.wait_for(bad.wait_closed(), 5)
            assert bad.close_code == 1007
            assert bad.close_reason.startswith("invalid start byte")
            assert (await recv_answer(good, start("c2", seq=1)))["type"] == "ack"
            await good.close()

    run(scenario())


async def recv_answer(cti: object, event: dict[str, object]) -> dict[str, object]:
    from websockets.asyncio.client import ClientConnection

    assert isinstance(cti, ClientConnection)
    await cti.send(json.dumps(event))
    return await recv(cti)


def test_a_cti_that_does_not_read_its_answers_is_slowed_down_and_loses_none() -> None:
    async def scenario() -> None:
        async with server(acks_in_flight=16, max_events_per_s=1_000_000) as srv:
            cti = await ingest(srv, max_queue=4, max_size=None)  # it reads no more than that off its socket
            sent, pushed_back = 0, False
            try:
                while sent < MAX_SENT:  # nobody reads the answers meanwhile
                    await asyncio.wait_for(cti.send(FILLER), 1.0)
                    sent += 1
            except TimeoutError:  # the server stopped reading: TCP pushed back on this sender
                sent, pushed_back = sent + 1, True  # that message is written (send waits after writing)
            assert pushed_back, f"all {sent} messages were taken in: nothing pushed back"
            answers = 0
            try:
                while answers < sent * EVENTS:  # now it reads: every event it wrote is answered, once
                    answer = json.loads(await asyncio.wait_for(cti.recv(), 10))
                    assert answer["type"] == "error" and answer["index"] == answers % EVENTS
                    answers += 1
            except ConnectionClosedError as exc:
                raise AssertionError(f"closed after {answers} of {sent * EVENTS} answers") from exc
            assert (await recv_answer(cti, start("c3", seq=1)))["type"] == "ack"  # and it goes on
            await cti.close()

    run(scenario(), timeout=60)


def test_a_cti_that_vanishes_with_a_backlog_leaves_no_connection_behind() -> None:
    async def scenario() -> None:
        async with server(acks_in_flight=16, max_events_per_s=1_000_000) as srv:
            cti = await ingest(srv, max_queue=4, max_size=None)
            try:
                for _ in range(MAX_SENT):
                    await asyncio.wait_for(cti.send(FILLER), 1.0)
            except TimeoutError:
                pass  # pushed back: the server holds a backlog it cannot answer
            cti.transport.abort()  # gone without a close
            for _ in range(200):  # bounded: 10 s
                if srv.health()["connections"]["cti"] == 0:
                    break
                await asyncio.sleep(0.05)
            assert srv.health()["connections"]["cti"] == 0
            assert (await recv_answer(await ingest(srv), start("c4", seq=1)))["type"] == "ack"

    run(scenario(), timeout=60)
