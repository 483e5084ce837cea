"""The call summary webhook: when a call ends its summary is POSTed as JSON to `summary_webhook.url`.

    POST /your/endpoint
    Content-Type: application/json
    X-Assist-Event: call.summary
    X-Assist-Delivery: 1742                       # the same on every retry of one summary
    X-Assist-Signature: t=1767225600,v1=5f1c…     # HMAC-SHA256(secret, f"{t}.{body}"), hex

Verify it by recomputing the HMAC over the timestamp, a dot and the raw body, comparing in constant time,
and refusing old timestamps (replays). Any 2xx answer is a delivery; anything else (or no answer within
`timeout_s`) is retried with exponential backoff up to `retry_max_s` between attempts, in order. Ingest
never waits for it: the hub only queues the body. With the call log each body is written to it with the
call's end and removed once delivered, so summaries not yet delivered survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections import deque
from typing import Any

from assist.server.calllog import CallLog
from assist.server.config import SummaryWebhookSettings

log = logging.getLogger("assist.server")
FIRST_RETRY_S = 1.0


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Assist-Signature header value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class SummaryWebhook:
    """Queues summaries (never blocking the caller) and delivers them one at a time, retrying."""

    def __init__(self, settings: SummaryWebhookSettings, calllog: CallLog | None = None,
                 first_retry_s: float = FIRST_RETRY_S):
        assert settings.url is not None
        self.settings = settings
        self.url = settings.url
        self.calllog = calllog
        self.first_retry_s = first_retry_s
        self.queue: deque[tuple[int, str]] = deque()  # (delivery key, body)
        self.delivered = 0
        self.failed_attempts = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_key = -1  # keys without a call log (negative: never a log row)

    def start(self) -> None:
        """Load what the log still has to deliver, then deliver in the background."""
        if self.calllog is not None:
            for key, _call_id, body in self.calllog.summaries_due():
                self.queue.append((key, body))
        self._task = asyncio.create_task(self._deliver_forever())
        if self.queue:
            log.info("summaries_due", extra={"count": len(self.queue)})
            self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def call_ended(self, call: dict[str, Any], summary: dict[str, Any]) -> None:
        """Queue the summary of a call that just ended (`call`: call_id, agent_id, lang)."""
        body = json.dumps({"event": "call.summary", **call, "summary": summary}, ensure_ascii=False)
        if self.calllog is not None:
            key = self.calllog.summary_due(str(call["call_id"]), body)  # committed with the call's end
        else:
            key, self._next_key = self._next_key, self._next_key - 1
        self.queue.append((key, body))
        self._wake.set()

    async def _deliver_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = self.first_retry_s
            while self.queue:
                key, body = self.queue[0]
                if await self._post(key, body.encode()):
                    self.queue.popleft()
                    self.delivered += 1
                    wait = self.first_retry_s
                    if self.calllog is not None and key >= 0:
                        self.calllog.summary_delivered(key)
                    continue
                self.failed_attempts += 1
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.settings.retry_max_s)

    async def _post(self, key: int, body: bytes) -> bool:
        headers = {"Content-Type": "application/json", "X-Assist-Event": "call.summary",
                   "X-Assist-Delivery": str(key), "User-Agent": "assist-webhook"}
        if self.settings.secret:
            headers["X-Assist-Signature"] = signature(self.settings.secret, int(time.time()), body)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            status = await asyncio.to_thread(self._send, request)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            log.warning("webhook_failed", extra={"delivery": key, "error": f"{type(exc).__name__}: {exc}"})
            return False
        if 200 <= status < 300:
            return True
        log.warning("webhook_refused", extra={"delivery": key, "status": status})
        return False

    def _send(self, request: urllib.request.Request) -> int:
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code
