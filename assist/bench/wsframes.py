"""A lean websocket client for the load generator: the few pieces of RFC 6455 a client needs, on a
raw asyncio Protocol, so thousands of sockets cost the generator little CPU (it shares the machine
with the server it measures; a CTI platform is not a Python websockets client either).

- `handshake_request` / `check_handshake`: one HTTP/1.1 upgrade per socket (RFC 6455 §4.1); the
  answer must be 101 with the Sec-WebSocket-Accept of our key;
- `client_frame`: a whole masked frame (§5.3: every client frame is masked), built by the websockets
  library's serializer, so the generator can build its frames before it measures anything;
- `FrameReader`: server frames fed as they come off the socket (a frame may be split across reads,
  several may share one); data messages reassembled from their fragments (§5.4), control frames
  (ping, pong, close) given back as they come, even between fragments;
- `LeanSocket`: the asyncio Protocol: answers a ping with a pong and a close with a close, and hands
  every text message to `on_text(now, payload)` with the time its read came in.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast

from websockets.frames import Frame, Opcode
from websockets.utils import accept_key, generate_key

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 1 << 20
MAX_HEAD = 16 * 1024
CLOSE_NORMAL = (1000).to_bytes(2, "big")


class FrameError(Exception):
    """The server broke RFC 6455 (or the handshake failed): what was expected and what came."""


def handshake_request(host: str, port: int, path: str, headers: dict[str, str]) -> tuple[bytes, str]:
    """The upgrade request for ws://host:port/path and the key its answer must accept."""
    key = generate_key()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


def check_handshake(head: bytes, key: str) -> None:
    """Raise FrameError unless `head` (the response up to its blank line) switches protocols for `key`."""
    status, *fields = head.decode("latin-1").split("\r\n")
    if not status.startswith("HTTP/1.1 101"):
        raise FrameError(f"expected 'HTTP/1.1 101 Switching Protocols', got {status!r}")
    got = {name.strip().lower(): value.strip() for name, _, value in (f.partition(":") for f in fields if f)}
    if got.get("sec-websocket-accept") != accept_key(key):
        raise FrameError(f"expected Sec-WebSocket-Accept {accept_key(key)!r}, got {got.get('sec-websocket-accept')!r}")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final frame of `opcode` carrying `payload`, masked with a fresh random key."""
    return Frame(Opcode(opcode), payload).serialize(mask=True)


class FrameReader:
    """Server frames in, complete messages out as (opcode, payload)."""

    def __init__(self) -> None:
        self._rest = b""                 # the start of a frame whose end has not come yet
        self._opcode: int | None = None  # the opcode of a fragmented message in progress
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._rest + data if self._rest else data
        out: list[tuple[int, bytes]] = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            size, head = b1 & 0x7F, 2
            if size == 126:
                if end - pos < 4:
                    break
                size, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif size == 127:
                if end - pos < 10:
                    break
                size, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if b1 & 0x80 or b0 & 0x70 or size > MAX_MESSAGE:
                raise FrameError(f"expected an unmasked server frame without RSV bits of at most {MAX_MESSAGE} "
                                 f"bytes, got header {buf[pos:pos + head].hex()}")
            if end - pos - head < size:
                break
            payload = buf[pos + head:pos + head + size]
            pos += head + size
            self._frame(b0 & 0x0F, bool(b0 & 0x80), payload, out)
        self._rest = buf[pos:]
        return out

    def _frame(self, opcode: int, fin: bool, payload: bytes, out: list[tuple[int, bytes]]) -> None:
        if opcode >= OP_CLOSE:  # control frames: never fragmented, may come between fragments
            if not fin or len(payload) > 125 or opcode > OP_PONG:
                raise FrameError(f"expected a whole control frame of at most 125 bytes, got opcode {opcode} "
                                 f"fin {fin} of {len(payload)} bytes")
            out.append((opcode, payload))
        elif opcode == OP_CONT:
            if self._opcode is None:
                raise FrameError("expected a text or binary frame, got a continuation with no message open")
            self._parts.append(payload)
            if sum(map(len, self._parts)) > MAX_MESSAGE:
                raise FrameError(f"expected a message of at most {MAX_MESSAGE} bytes, got more")
            if fin:
                out.append((self._opcode, b"".join(self._parts)))
                self._opcode, self._parts = None, []
        elif opcode in (OP_TEXT, OP_BINARY):
            if self._opcode is not None:
                raise FrameError(f"expected a continuation frame, got opcode {opcode} inside a fragmented message")
            if fin:
                out.append((opcode, payload))
            else:
                self._opcode, self._parts = opcode, [payload]
        else:
            raise FrameError(f"expected a known opcode, got {opcode}")


class LeanSocket(asyncio.Protocol):
    """One client websocket. `opened` resolves after the handshake, `closed` when the TCP connection
    ends; `send` writes a frame built beforehand; subclasses look at text messages in `on_text`."""

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        self.request, self._key = handshake_request(host, port, path, headers)
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._head = b""
        self._reader = FrameReader()
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, but is one
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if not self.opened.done():
            data = self._handshake(data)
            if not data:
                return
        try:
            messages = self._reader.feed(data)
        except FrameError as exc:
            self._fail(exc)
            return
        for opcode, payload in messages:
            if opcode == OP_TEXT:
                self.on_text(now, payload)
            elif opcode == OP_PING:
                self.send(client_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:  # answer it (once); the server then ends the TCP connection (§7.1.1)
                self.close(payload[:2])

    def _handshake(self, data: bytes) -> bytes:
        self._head += data
        head, sep, rest = self._head.partition(b"\r\n\r\n")
        if not sep:
            if len(self._head) > MAX_HEAD:
                self._fail(FrameError(f"expected an HTTP response head under {MAX_HEAD} bytes, got more"))
            return b""
        try:
            check_handshake(head, self._key)
        except FrameError as exc:
            self._fail(exc)
            return b""
        self.opened.set_result(None)
        return rest

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def on_text(self, now: float, payload: bytes) -> None:
        """A text message that came in a read at `now` (time.monotonic()); nothing by default."""

    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)

    def close(self, code: bytes = CLOSE_NORMAL) -> None:
        """Start the closing handshake (once): a close frame with `code` (2 bytes, or b"")."""
        if not self._closing:
            self._closing = True
            self.send(client_frame(OP_CLOSE, code))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or FrameError("expected a handshake answer, got the connection closed"))
        if not self.closed.done():
            self.closed.set_result(None)


async def open_socket(socket: LeanSocket, host: str, port: int, timeout: float = 60.0) -> None:
    """Connect `socket` to host:port and wait for its handshake."""
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.create_connection(lambda: socket, host, port), timeout)
    await asyncio.wait_for(socket.opened, timeout)
