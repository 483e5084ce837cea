"""The load generator's websocket client (`assist.bench.wsframes`): server frames however the reads
split them, and frames that a real websockets server unmasks to what was sent."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from assist.bench.wsframes import (
    OP_BINARY,
    OP_PING,
    OP_TEXT,
    FrameError,
    FrameReader,
    LeanSocket,
    client_frame,
    open_socket,
)


def server_frame(opcode: Opcode, payload: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, payload, fin).serialize(mask=False)


def feed_in_pieces(data: bytes, size: int) -> list[tuple[int, bytes]]:
    reader = FrameReader()
    out: list[tuple[int, bytes]] = []
    for i in range(0, len(data), size):
        out += reader.feed(data[i:i + size])
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 7, 126, 100_000])
def test_frames_split_across_reads_come_out_whole_and_in_order(size: int) -> None:
    texts = [b"", b"x" * 125, b"y" * 126, b"z" * 65_535, b"w" * 65_536]
    stream = b"".join(server_frame(Opcode.TEXT, t) for t in texts)
    assert feed_in_pieces(stream, size) == [(OP_TEXT, t) for t in texts]


def test_a_fragmented_message_is_reassembled_and_a_ping_between_its_fragments_comes_first() -> None:
    stream = (server_frame(Opcode.TEXT, b'{"kind":', fin=False) + server_frame(Opcode.CONT, b'"pro', fin=False)
              + server_frame(Opcode.PING, b"hi") + server_frame(Opcode.CONT, b'mpt"}')
              + server_frame(Opcode.BINARY, b"\x00\x01"))
    assert feed_in_pieces(stream, 3) == [(OP_PING, b"hi"), (OP_TEXT, b'{"kind":"prompt"}'), (OP_BINARY, b"\x00\x01")]


@pytest.mark.parametrize(("stream", "expected"), [
    (Frame(Opcode.TEXT, b"hi").serialize(mask=True), "unmasked"),
    (server_frame(Opcode.CONT, b"hi"), "no message open"),
    (server_frame(Opcode.TEXT, b"a", fin=False) + server_frame(Opcode.TEXT, b"b"), "expected a continuation"),
    (bytes([0x83, 0]), "known opcode"),
])
def test_a_frame_breaking_rfc_6455_is_refused_saying_what_was_expected(stream: bytes, expected: str) -> None:
    with pytest.raises(FrameError, match=expected):
        FrameReader().feed(stream)


class Collecting(LeanSocket):
    def __init__(self, port: int, path: str = "/") -> None:
        super().__init__("127.0.0.1", port, path, {"Authorization": "Bearer t"})
        self.texts: list[bytes] = []
        self.arrived = asyncio.Event()

    def on_text(self, now: float, payload: bytes) -> None:
        self.texts.append(payload)
        self.arrived.set()

    async def next_text(self) -> bytes:
        while not self.texts:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 10)
        return self.texts.pop(0)


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


def test_masked_frames_reach_a_real_server_as_sent_and_its_answers_come_back() -> None:
    payloads = [b"", "é€😀".encode(), b"a" * 125, b"b" * 126, b"c" * 65_536, ("é€😀" * 30_000).encode()]
    seen: list[str] = []

    async def echo(ws: ServerConnection) -> None:
        await (await ws.ping(b"are you there"))  # answered with a pong, or this waits forever
        seen.append("pong")
        async for message in ws:
            await ws.send(message)
        seen.append(f"closed {ws.close_code}")

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, compression=None) as server:
            sock = Collecting(server.sockets[0].getsockname()[1])
            await open_socket(sock, "127.0.0.1", server.sockets[0].getsockname()[1])
            for payload in payloads:
                sock.send(client_frame(OP_TEXT, payload))
                assert await sock.next_text() == payload
            sock.close()
            await asyncio.wait_for(sock.closed, 10)
        assert seen == ["pong", "closed 1000"]

    run(main())


def test_a_close_from_the_server_is_answered_and_the_connection_ends() -> None:
    async def closing(ws: ServerConnection) -> None:
        await ws.close(1001, "going away")

    async def main() -> None:
        async with serve(closing, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            sock = Collecting(port)
            await open_socket(sock, "127.0.0.1", port)
            await asyncio.wait_for(sock.closed, 10)  # the server's close completed: we answered it

    run(main())


def test_a_refused_handshake_is_an_error_naming_the_status() -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(403, "no\n")

    async def main() -> None:
        async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse) as server:
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(FrameError, match=r"expected 'HTTP/1.1 101.*got 'HTTP/1.1 403"):
                await open_socket(Collecting(port), "127.0.0.1", port)

    run(main())


def test_headers_go_out_with_the_handshake() -> None:
    got: list[Headers] = []

    async def keep(ws: ServerConnection) -> None:
        assert ws.request is not None
        got.append(ws.request.headers)
        await ws.send("hello")
        await ws.wait_closed()

    async def main() -> None:
        async with serve(keep, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            sock = Collecting(port, "/agent")
            await open_socket(sock, "127.0.0.1", port)
            assert await sock.next_text() == b"hello"
            sock.close()
            await asyncio.wait_for(sock.closed, 10)
        assert got[0]["Authorization"] == "Bearer t"

    run(main())
