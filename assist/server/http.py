"""The handshake-time side of the server: token auth, origin check, and the plain HTTP routes
(pages, static files, /healthz, /metrics), answered from websockets' process_request hook."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from assist.server.config import Tokens, token_key
from assist.server.guard import TICKET_S, HostCheck, SessionTickets, cookie_value, header_problem

STATIC_DIR = Path(__file__).resolve().parent / "static"
WS_PATHS = ("/ingest", "/agent", "/supervisor")
PAGES = {"/": "sidebar.html", "/supervisor": "supervisor.html"}
PAGE_ROLES = {"/": "agent", "/supervisor": "supervisor"}
# the pages load their own scripts and styles only, open websockets to this server only, and no other
# site may frame them (clickjacking) or learn their address (it may carry a token on the first load)
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
    ".woff2": "font/woff2", ".txt": "text/plain; charset=utf-8", ".map": "application/json",
}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")

# Shown only while the real page is not installed in static/: enough to see prompts arrive.
_PLACEHOLDER = """<!doctype html><meta charset="utf-8"><title>assist</title>
<pre id="log">connecting…</pre><script>
const q = new URLSearchParams(location.search);
const path = location.pathname === "/supervisor" ? "supervisor" : "agent";
const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/${path}?token=`
  + encodeURIComponent(q.get("token") || ""));
const log = document.getElementById("log");
ws.onmessage = (m) => { log.textContent = m.data + "\\n" + log.textContent; };
ws.onclose = (e) => { log.textContent = `closed ${e.code} ${e.reason}\\n` + log.textContent; };
</script>"""


@dataclass(frozen=True, slots=True)
class Identity:
    role: str               # "cti" | "agent" | "supervisor"
    agent_id: str | None = None


class Gate:
    """Decides who a websocket client is from its token, and whether its origin may connect."""

    def __init__(self, tokens: Tokens, allowed_origins: list[str]):
        self._by_key: dict[bytes, Identity] = {}
        monitor = tokens.metrics or tokens.supervisor
        self._monitor_key = token_key(monitor) if monitor else None
        if tokens.cti:
            self._by_key[token_key(tokens.cti)] = Identity("cti")
        if tokens.supervisor:
            self._by_key[token_key(tokens.supervisor)] = Identity("supervisor")
        for agent_id, token in tokens.agents.items():
            if token:
                self._by_key[token_key(token)] = Identity("agent", agent_id)
        self._allowed_origins = set(allowed_origins)
        self.tickets = SessionTickets({(who.role, who.agent_id): key for key, who in self._by_key.items()})

    def monitor_ok(self, request: Request) -> bool:
        """May this request read /metrics and the details of /healthz (tokens.metrics, else supervisor)?"""
        token = bearer_token(request)
        return bool(token) and self._monitor_key is not None and hmac.compare_digest(
            token_key(token), self._monitor_key)

    def by_token(self, token: str) -> Identity | None:
        return self._by_key.get(token_key(token)) if token else None

    def identify(self, request: Request) -> Identity | HTTPStatus:
        """The identity a request's token proves, or 401 (no token) / 403 (wrong token)."""
        token = bearer_token(request)
        if not token:
            ticket = cookie_value(request, ticket_cookie(urlsplit(request.path).path))
            if not ticket:
                return HTTPStatus.UNAUTHORIZED
            proven = self.tickets.check(ticket)
            return Identity(*proven) if proven is not None else HTTPStatus.FORBIDDEN
        found = self._by_key.get(token_key(token))
        return found if found is not None else HTTPStatus.FORBIDDEN

    def origin_ok(self, request: Request) -> bool:
        """Browsers send Origin: it must be the server's own or listed; other clients send none."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        if origin in self._allowed_origins:
            return True
        host = request.headers.get("Host", "")
        return bool(host) and hmac.compare_digest(urlsplit(origin).netloc.lower(), host.lower())


def bearer_token(request: Request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return parse_qs(urlsplit(request.path).query).get("token", [""])[0]


def respond(status: HTTPStatus, body: bytes | str, content_type: str = "text/plain; charset=utf-8",
            extra: dict[str, str] | None = None) -> Response:
    data = body.encode() if isinstance(body, str) else body
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(data))),
                       ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                       ("Connection", "close")])
    for k, v in (extra or {}).items():
        headers[k] = v
    return Response(status.value, status.phrase, headers, data)


def handshake_refusal(request: Request, hosts: HostCheck) -> Response | None:
    """400 for a repeated Host/Origin/Authorization/Cookie header, 421 for a Host not served (DNS
    rebinding), else None. Runs first: every later step may read these headers as single values."""
    repeated = header_problem(request)
    if repeated is not None:
        return respond(HTTPStatus.BAD_REQUEST, f"the {repeated} header came more than once: expected it once\n")
    if not hosts.allows(request):
        return respond(HTTPStatus.MISDIRECTED_REQUEST, "this server does not answer to that host name "
                       "(see allowed_hosts)\n")
    return None


def page_with_ticket(request: Request, gate: Gate, tls: bool) -> Response | None:
    """A page opened with `?token=` that proves its role: a redirect to the same page without the token,
    with the ticket in an HttpOnly cookie sent only to the page's websocket path, and a marker cookie
    the page's script can see (it then connects without a token). None: serve the request as usual."""
    parts = urlsplit(request.path)
    role = PAGE_ROLES.get(parts.path)
    token = parse_qs(parts.query).get("token", [""])[0]
    who = gate.by_token(token) if role else None
    if who is None or who.role != role:
        return None
    ws_path = "/agent" if role == "agent" else "/supervisor"
    secure = "; Secure" if tls else ""
    ticket = gate.tickets.issue(who.role, who.agent_id)
    response = respond(HTTPStatus.SEE_OTHER, "", extra={"Location": parts.path})
    response.headers["Set-Cookie"] = (f"{ticket_cookie(ws_path)}={ticket}; Path={ws_path}; Max-Age={TICKET_S}; "
                                      f"HttpOnly; SameSite=Strict{secure}")
    response.headers["Set-Cookie"] = (f"{ticket_cookie(ws_path)}_session=1; Path={parts.path}; "
                                      f"Max-Age={TICKET_S}; SameSite=Strict{secure}")
    return response


def is_upgrade(request: Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def ticket_cookie(ws_path: str) -> str:
    """The cookie holding a page's ticket: one per role, sent only to its websocket path."""
    return f"assist_{ws_path.strip('/') or 'agent'}"


def static_file(name: str, static_dir: Path = STATIC_DIR) -> Response:
    """A file straight out of static/ (no sub-folders, no dot-files); 404 otherwise."""
    if not _SAFE_NAME.match(name) or ".." in name:
        return respond(HTTPStatus.NOT_FOUND, "not found\n")
    path = static_dir / name
    try:
        data = path.read_bytes()
    except OSError:
        if name in PAGES.values():
            return respond(HTTPStatus.OK, _PLACEHOLDER, CONTENT_TYPES[".html"])
        return respond(HTTPStatus.NOT_FOUND, "not found\n")
    return respond(HTTPStatus.OK, data, CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"))


def http_route(request: Request, health: Callable[[], dict[str, Any]], metrics: Callable[[], bytes],
               static_dir: Path = STATIC_DIR, may_monitor: Callable[[Request], bool] | None = None) -> Response:
    """Answer a plain HTTP GET (anything that is not a websocket upgrade). With `may_monitor`, /metrics
    and the details of /healthz need the monitoring token; everyone else learns only the status."""
    path = urlsplit(request.path).path
    monitor = may_monitor is None or may_monitor(request)
    if path in PAGES:
        page = static_file(PAGES[path], static_dir)
        if page.status_code == HTTPStatus.OK and (static_dir / PAGES[path]).exists():
            for k, v in PAGE_HEADERS.items():
                page.headers[k] = v
        return page
    if path.startswith("/static/"):
        return static_file(path[len("/static/"):], static_dir)
    if path == "/healthz":
        report = health()
        status = HTTPStatus.OK if report["status"] == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
        return respond(status, json.dumps(report if monitor else {"status": report["status"]}), "application/json")
    if path == "/metrics":
        if not monitor:
            return respond(HTTPStatus.UNAUTHORIZED, "/metrics needs the metrics (or supervisor) token\n",
                           extra={"WWW-Authenticate": "Bearer"})
        return respond(HTTPStatus.OK, metrics(), CONTENT_TYPE_LATEST)
    if path in WS_PATHS:
        return respond(HTTPStatus.UPGRADE_REQUIRED, "this path takes a websocket connection\n",
                       extra={"Upgrade": "websocket"})
    return respond(HTTPStatus.NOT_FOUND, "not found\n")
