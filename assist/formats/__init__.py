"""Transcript formats: each module turns a file's text into native event dicts, with where they came from.

A parser yields ``Item``s: an event dict (to be validated by the core) or a problem found while reading.
``detect`` picks the format from the file's first lines; ``--format`` forces one.

The vendor stream formats (Deepgram live, Transcribe streaming, LCA) are read one message at a time by a
``StreamReader``: replay pushes a file's records through it, ``/ingest?format=…`` pushes websocket
messages through the same reader (see ``assist.formats.live``), so both raise the same prompts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assist.errors import FormatError


@dataclass(frozen=True, slots=True)
class ReadOptions:
    call_id: str              # default call id for formats that carry none (the file name's stem)
    lang: str | None = None   # language override / default
    agent_id: str | None = None
    agent_channel: str | None = None  # which channel is the agent (ch_0, 0) when the format does not say
    agent_speaker: str | None = None  # which diarized speaker is the agent (spk_1, 1, a voice name)


@dataclass(frozen=True, slots=True)
class Item:
    where: str                          # file:line
    event: dict[str, Any] | None = None
    problem: str | None = None          # what is wrong, without the location (that is `where`)
    field: str = ""                     # with a problem about one field: which, what was expected, what came
    expected: str = ""
    got: str = ""

    @classmethod
    def failed(cls, where: str, exc: FormatError) -> Item:
        """A problem item from `exc`, at the error's own location when it names one (more exact)."""
        return cls(exc.where or where, problem=exc.message, field=exc.field, expected=exc.expected, got=exc.got)


class StreamReader(Protocol):
    """A vendor stream read incrementally: push one decoded message, get the native events it completes."""

    def push(self, message: Any, where: str) -> list[Item]:
        """Events (and problems) this message completes; `where` names it in problems (file:line, message n)."""
        ...

    def close(self, where: str) -> list[Item]:
        """The stream ended normally: what was still held, then the call's end where the format needs one."""
        ...

    @property
    def holding(self) -> bool:
        """True while part of an utterance is held back (not yet out as a final event)."""
        ...


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    description: str
    sniff: Callable[[str], bool]
    read: Callable[[str, str, ReadOptions], Iterator[Item]]
    # a reader of single messages (options, source, live) for the formats a vendor streams
    stream: Callable[[ReadOptions, str, bool], StreamReader] | None = None


# Every format by name, in detection order: specific shapes first; the native jsonl (any object with "type")
# and text last. Each is the module assist.formats.<name with _ for ->; the CLI offers these as choices.
NAMES = ("transcribe-analytics", "transcribe", "deepgram-prerecorded", "transcribe-streaming", "deepgram", "lca",
         "webvtt", "srt", "jsonl", "text")


def _registry() -> dict[str, Format]:
    modules = (importlib.import_module(f"assist.formats.{name.replace('-', '_')}") for name in NAMES)
    return {f.name: f for f in (m.FORMAT for m in modules)}


FORMATS: dict[str, Format] = {}


def formats() -> dict[str, Format]:
    if not FORMATS:
        FORMATS.update(_registry())
    return FORMATS


def detect(head: str, source: str) -> Format:
    for fmt in formats().values():
        if fmt.sniff(head):
            return fmt
    first = next((ln for ln in head.splitlines() if ln.strip()), "")[:60]
    raise FormatError(f"cannot tell the format: expected one of {', '.join(formats())} "
                      f"(use --format to force one), got a file starting {first!r}", where=source)


def read_file(path: Path, fmt_name: str | None, opts: ReadOptions) -> Iterator[Item]:
    """Items from one transcript file, in file order."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror}", where=str(path)) from None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"expected UTF-8 text, got invalid bytes at offset {exc.start}", where=str(path)) from None
    if fmt_name is not None:
        if fmt_name not in formats():
            raise FormatError(f"unknown format {fmt_name!r}: expected one of {', '.join(formats())}")
        fmt = formats()[fmt_name]
    else:
        fmt = detect(content[:4096], str(path))
    return fmt.read(content, str(path), opts)
