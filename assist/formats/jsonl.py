"""The native event stream: one JSON event per line, any number of calls, interleaved."""

from __future__ import annotations

import json
from collections.abc import Iterator

from assist.core.events import describe, json_problem
from assist.formats import Format, Item, ReadOptions


def _sniff(head: str) -> bool:
    first = next((ln.strip() for ln in head.splitlines() if ln.strip()), "")
    if not first.startswith("{"):
        return False
    try:
        obj = json.loads(first)
    except (ValueError, RecursionError):  # not only JSONDecodeError: huge ints, deep nesting
        return '"type"' in first
    return isinstance(obj, dict) and "type" in obj


def read(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    for n, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{n}"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield Item(where, problem=f"expected a JSON object, got {json_problem(exc)}")
            continue
        if not isinstance(obj, dict):  # null, a number, a list: nothing to read an event from
            yield Item(where, problem=f"expected a JSON object, got {describe(obj)}")
            continue
        if obj.get("type") == "call.start" and opts.lang and "lang" not in obj:
            obj["lang"] = opts.lang
        yield Item(where, event=obj)


FORMAT = Format("jsonl", "native JSON Lines event stream", _sniff, read)
