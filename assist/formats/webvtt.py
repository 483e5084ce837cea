"""WebVTT captions of a call: cues with ``<v Agent>…</v>`` voice spans or ``Agent:`` / ``客户：`` prefixes
(the text format's label table). Consecutive cues of one speaker make a turn; a cue without a label
continues the previous speaker. Voices that are names rather than roles (``<v Roger Bingham>``) need
``--agent-speaker NAME``. Other markup (``<b>``, ``<c.x>``, inline timestamps) is dropped; NOTE,
STYLE and REGION blocks are skipped. ``srt.py`` reuses this for SubRip files.

Syntax follows:
  https://www.w3.org/TR/webvtt1/ (cue timings, voice span ``<v>``, NOTE/STYLE/REGION blocks)
  https://developer.mozilla.org/en-US/docs/Web/API/WebVTT_API
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from assist.core.normalize import detect_lang
from assist.formats import Format, Item, ReadOptions
from assist.formats._stt import Turn, events, join, roles
from assist.formats.text import AGENT_LABELS, CUSTOMER_LABELS

ROLE_OF = {x: "agent" for x in AGENT_LABELS} | {x: "customer" for x in CUSTOMER_LABELS}
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>(.*?)(?:</v>|(?=<v[\s.])|$)", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_LABEL_RX = "|".join(sorted((re.escape(x) for x in ROLE_OF), key=len, reverse=True))
_PREFIX = re.compile(rf"^\s*(?:-\s*)?(?:\[)?(?P<label>{_LABEL_RX})(?:\s*\d+)?(?:\])?\s*[:：]\s*", re.IGNORECASE)
_NAME_PREFIX = re.compile(r"^\s*(?:-\s*)?\[?(?P<label>[A-Z][\w .'-]{0,30}?)\]?\s*:\s+")


@dataclass(slots=True)
class Cue:
    where: str
    start_ms: int
    end_ms: int
    lines: list[str]


def time_ms(groups: tuple[str | None, ...]) -> int:
    h, m, s, frac = groups
    return ((int(h or 0) * 60 + int(m or 0)) * 60 + int(s or 0)) * 1000 + int((frac or "0").ljust(3, "0")[:3])


def cues(content: str, source: str) -> Iterator[Cue | Item]:
    """Cues in file order; a block with text but no timing line is a problem."""
    lines = content.splitlines()
    n = 0
    while n < len(lines):
        while n < len(lines) and not lines[n].strip():
            n += 1
        block_start = n
        block: list[str] = []
        while n < len(lines) and lines[n].strip():
            block.append(lines[n])
            n += 1
        if not block or block[0].startswith(("WEBVTT", "NOTE", "STYLE", "REGION")):
            continue
        timing = next((i for i, ln in enumerate(block[:2]) if "-->" in ln), None)
        m = TIMING.match(block[timing]) if timing is not None else None
        if timing is None or m is None:
            yield Item(f"{source}:{block_start + 1}", problem=f"expected a cue timing "
                       f"line such as '00:00:01.000 --> 00:00:04.000', got {block[0].strip()[:40]!r}")
            continue
        where = f"{source}:{block_start + timing + 1}"
        yield Cue(where, time_ms(m.groups()[:4]), time_ms(m.groups()[4:]), block[timing + 1:])


def _spans(cue: Cue) -> list[tuple[str | None, str]]:
    """(speaker label as written, text) for each voice span or labelled line of a cue."""
    payload = "\n".join(cue.lines)
    voices = _VOICE.findall(payload)
    if voices:
        return [(name.strip(), _clean(text)) for name, text in voices]
    out: list[tuple[str | None, str]] = []
    for line in cue.lines:
        text = _clean(line)
        m = _PREFIX.match(text) or _NAME_PREFIX.match(text)
        if m is not None:
            out.append((m.group("label").strip(), text[m.end():]))
        elif out:
            out[-1] = (out[-1][0], f"{out[-1][1]} {text}")
        else:
            out.append((None, text))
    return out


def _clean(text: str) -> str:
    return html.unescape(_TAG.sub("", text)).replace("\n", " ").strip()


def speaker_key(name: str) -> str:
    """A voice name as a label: a role word ('Agent', 'Agent Smith', '客服') becomes the role."""
    low = name.lower()
    if low in ROLE_OF:
        return ROLE_OF[low]
    first = low.split()[0] if low.split() else low
    return ROLE_OF.get(first, name)


def read_cues(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    turns: list[Turn] = []
    parts: list[list[str]] = []
    for cue in cues(content, source):
        if isinstance(cue, Item):
            yield cue
            continue
        for name, text in _spans(cue):
            who = speaker_key(name) if name else (turns[-1].label if turns else None)
            if who is None:
                yield Item(cue.where, problem=f"expected a speaker such as '<v Agent>' or "
                           f"'Customer:' on the first cue, got {text[:40]!r}")
                continue
            if not text:
                continue
            if turns and turns[-1].label == who:
                parts[-1].append(text)
                turns[-1].text = join(parts[-1])
                turns[-1].end_ms = max(turns[-1].end_ms, cue.end_ms)
            else:
                turns.append(Turn(cue.where, who, text, cue.start_ms, cue.end_ms))
                parts.append([text])
    labels = {t.label for t in turns if t.label}
    speaker_of = roles(labels, "speaker", opts, source, known={"agent": "agent", "customer": "customer"})
    lang = detect_lang(" ".join(t.text for t in turns[:10])) if turns else None
    yield from events(turns, speaker_of, opts, call_id=opts.call_id, where=f"{source}:1", lang=lang)


def _sniff(head: str) -> bool:
    return head.lstrip("\ufeff").startswith("WEBVTT")


FORMAT = Format("webvtt", "WebVTT captions with <v Agent>/<v Customer> voices or Agent:/Customer: prefixes",
                _sniff, read_cues)
