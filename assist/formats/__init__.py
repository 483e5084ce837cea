"""Transcript formats: each module turns a file's text into native event dicts, with where they came from.

A parser yields ``Item``s: an event dict (to be validated by the core) or a problem found while reading.
``detect`` picks the format from the file's first lines; ``--format`` forces one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    description: str
    sniff: Callable[[str], bool]
    read: Callable[[str, str, ReadOptions], Iterator[Item]]


def _registry() -> dict[str, Format]:
    from assist.formats import (
        deepgram,
        deepgram_prerecorded,
        jsonl,
        lca,
        srt,
        text,
        transcribe,
        transcribe_analytics,
        transcribe_streaming,
        webvtt,
    )

    # order matters: specific shapes first; the native jsonl (any object with "type") and text last
    return {f.name: f for f in (
        transcribe_analytics.FORMAT, transcribe.FORMAT, deepgram_prerecorded.FORMAT,
        transcribe_streaming.FORMAT, deepgram.FORMAT, lca.FORMAT, webvtt.FORMAT, srt.FORMAT,
        jsonl.FORMAT, text.FORMAT,
    )}


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
    raise FormatError(f"{source}: cannot tell the format: expected one of {', '.join(formats())} "
                      f"(use --format to force one), got a file starting {first!r}")


def read_file(path: Path, fmt_name: str | None, opts: ReadOptions) -> Iterator[Item]:
    """Items from one transcript file, in file order."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: expected UTF-8 text, got invalid bytes at offset {exc.start}") from None
    if fmt_name is not None:
        if fmt_name not in formats():
            raise FormatError(f"unknown format {fmt_name!r}: expected one of {', '.join(formats())}")
        fmt = formats()[fmt_name]
    else:
        fmt = detect(content[:4096], str(path))
    return fmt.read(content, str(path), opts)
