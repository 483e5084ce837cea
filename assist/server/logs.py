"""Server logs: one structured line per event, with timestamp, level, logger and the event's fields
(call_id, role, agent_id…): JSON Lines when stderr is not a terminal (a file, journald, a collector),
aligned readable lines when it is. structlog formats them; the code logs through the standard `logging`
module (`log.info("connected", extra={"role": "cti"})`), so an application that embeds the server keeps
its own logging set-up and `assist serve` calls `configure` once.

An exception is a field of its line (`"exception": [{"exc_type": …, "frames": […]}]`), never a traceback
spread over many lines. websockets' per-connection INFO lines are left out unless the level is debug.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error"]

# stdlib LogRecord attributes: everything else on a record came from `extra=` and becomes a field
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _extra_fields(logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    record = event.get("_record")
    if record is not None:
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                event.setdefault(key, value)
    return event


def _lead_fields(logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """timestamp, level, logger, event first (as people scan a line), then the event's own fields."""
    lead: dict[str, Any] = {k: event.pop(k) for k in ("timestamp", "level", "logger", "event") if k in event}
    return {**lead, **event}


def configure(fmt: LogFormat = "auto", level: LogLevel = "info", stream: TextIO | None = None) -> None:
    """Send every log record (assist's, websockets', asyncio's) to `stream` (stderr) as one structured line."""
    out = stream if stream is not None else sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (structlog.processors.JSONRenderer() if as_json
                     else structlog.dev.ConsoleRenderer(colors=out.isatty()))
    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _extra_fields,
    ]
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *((structlog.processors.dict_tracebacks, _lead_fields) if as_json else ()),
            renderer,
        ],
    ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # websockets says INFO per connection and "server listening"; assist logs its own one line for both
    logging.getLogger("websockets").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
