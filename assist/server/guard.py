"""Handshake-time defences and per-connection budgets (docs/security.md says why each exists).

- `header_problem`: a request repeating Host, Origin, Authorization or Cookie is refused (400): which
  copy would count is exactly what an attacker would like to choose.
- `HostCheck`: only listed Host names are served, so a DNS-rebinding page (its own name resolving to
  127.0.0.1) reaches nothing.
- `SessionTickets`: a page opened with `?token=` gets an HttpOnly cookie holding a signed ticket and is
  sent on to the same page without the token, so the token leaves the address bar and the history.
- `ConnectionCaps`: sockets per identity (per token), so one leaked token cannot open thousands.
- `RateLimit`, `IngestBudget`: work per connection, in events and in bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Iterable
from http import HTTPStatus

from websockets.http11 import Request

SINGLE_HEADERS = ("Host", "Origin", "Authorization", "Cookie")
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
COOKIE = "assist_ticket"
TICKET_S = 12 * 3600  # a ticket outlives a shift; a reload after that needs the token again


def header_problem(request: Request) -> str | None:
    """The name of a header that must come once but came more than once, or None."""
    for name in SINGLE_HEADERS:
        if len(request.headers.get_all(name)) > 1:
            return name
    return None


def host_name(host_header: str) -> str:
    """`Host: example.com:8765` → `example.com`; `[::1]:8765` → `[::1]`; lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostCheck:
    """Which Host names this server answers to: `allowed_hosts` when configured, else its own bind
    address and the loopback names; a server bound to every interface (0.0.0.0) answers any name
    unless `allowed_hosts` lists them (docs/security.md: set it when you bind beyond loopback)."""

    def __init__(self, bind_host: str, allowed_hosts: Iterable[str]):
        listed = {host_name(h) for h in allowed_hosts}
        self.any_host = not listed and bind_host in WILDCARD_BINDS
        self.names = listed or (LOOPBACK_NAMES | {host_name(bind_host)})

    def allows(self, request: Request) -> bool:
        if self.any_host:
            return True
        return host_name(request.headers.get("Host", "")) in self.names


class SessionTickets:
    """Signed, expiring tickets `<identity>.<expiry>.<mac>`: the MAC is keyed by a digest of the token
    that proved the identity, so a ticket dies with its token and survives a restart."""

    def __init__(self, keys: dict[tuple[str, str | None], bytes]) -> None:
        self._keys = keys  # (role, agent_id) → digest of that identity's token

    def issue(self, role: str, agent_id: str | None, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + TICKET_S)
        who = base64.urlsafe_b64encode(f"{role}\n{agent_id or ''}".encode()).decode().rstrip("=")
        body = f"{who}.{expiry}"
        return f"{body}.{self._mac((role, agent_id), body)}"

    def check(self, ticket: str, now: float | None = None) -> tuple[str, str | None] | None:
        """The (role, agent_id) a ticket proves, or None when forged, expired or its token is gone."""
        try:
            who, expiry, mac = ticket.split(".")
            role, _, agent = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode().partition("\n")
            ends = int(expiry)
        except ValueError:  # also binascii.Error and UnicodeDecodeError
            return None
        identity = (role, agent or None)
        if identity not in self._keys or ends < (time.time() if now is None else now):
            return None
        return identity if hmac.compare_digest(mac, self._mac(identity, f"{who}.{expiry}")) else None

    def _mac(self, identity: tuple[str, str | None], body: str) -> str:
        return hmac.new(self._keys[identity], body.encode(), hashlib.sha256).hexdigest()[:40]


def cookie_value(request: Request, name: str = COOKIE) -> str:
    for part in request.headers.get("Cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


class ConnectionCaps:
    """Open sockets per identity: the handshake refuses one more once `full` (checked there, counted
    from the handler on, so a handshake that fails half-way holds no slot)."""

    def __init__(self, per_identity: int):
        self.per_identity = per_identity
        self._open: Counter[tuple[str, str | None]] = Counter()

    def full(self, identity: tuple[str, str | None]) -> bool:
        return self._open[identity] >= self.per_identity

    def take(self, identity: tuple[str, str | None]) -> None:
        self._open[identity] += 1

    def give(self, identity: tuple[str, str | None]) -> None:
        self._open[identity] -= 1
        if self._open[identity] <= 0:
            del self._open[identity]


class RateLimit:
    """Token bucket: `rate` events per second, bursts up to one second's worth."""

    def __init__(self, rate: float):
        self.rate = rate
        self.tokens = rate
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class IngestBudget:
    """How much one /ingest connection may do before the loop serves everyone else, counted in bytes of
    events applied (a 20 kB utterance costs what 200 small events do), and its optional abuse ceiling.

    Pacing a fast sender needs nothing more: while this connection applies its events it is not reading,
    its socket buffer fills and TCP flow control slows the sender; at most `acks_in_flight` messages wait
    for the call log before reading stops altogether."""

    def __init__(self, slice_bytes: int, ceiling: float | None):
        self.slice_bytes = slice_bytes
        self.spent = 0
        self.ceiling = RateLimit(ceiling) if ceiling else None
        self.refused_in_row = 0

    def spend(self, nbytes: int) -> bool:
        """Count work done; True when this slice is used up (the caller yields to the loop)."""
        self.spent += nbytes
        if self.spent < self.slice_bytes:
            return False
        self.spent = 0
        return True

    def admit(self) -> bool:
        """Under the abuse ceiling (always, when there is none)?"""
        ok = self.ceiling is None or self.ceiling.take()
        self.refused_in_row = 0 if ok else self.refused_in_row + 1
        return ok

    def abusive(self) -> bool:
        """Refused for more than 10 s worth of events in a row: it does not read the errors either."""
        return self.ceiling is not None and self.refused_in_row > 10 * self.ceiling.rate


def status_text(status: HTTPStatus, text: str) -> tuple[HTTPStatus, str]:
    return status, text if text.endswith("\n") else text + "\n"
