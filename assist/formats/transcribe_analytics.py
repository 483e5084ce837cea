"""Amazon Transcribe Call Analytics post-call output (and the Amazon Connect Contact Lens analysis
file, which has the same turn list): ``Transcript[]`` turns with ``ParticipantRole`` AGENT/CUSTOMER
(Contact Lens: ``ParticipantId``), ``Content``, ``BeginOffsetMillis``, ``EndOffsetMillis`` and
``Sentiment``; ``ConversationCharacteristics`` and ``Categories`` are ignored. The file says who the
agent is, so no option is needed.

Field names follow:
  https://docs.aws.amazon.com/transcribe/latest/dg/tca-output-batch.html
  https://docs.aws.amazon.com/contact-lens/latest/APIReference/API_Transcript.html
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from assist.core.events import describe
from assist.errors import FormatError
from assist.formats import Format, Item, ReadOptions
from assist.formats._stt import Turn, events, load_json, millis, require

_TURNS = re.compile(r'"Transcript"\s*:\s*\[\s*(?:\{|\])')
_MARKS = re.compile(r'"(?:JobStatus|Participants|ConversationCharacteristics|BeginOffsetMillis|'
                    r'LoudnessScores|ContentMetadata|CustomerMetadata|AccountId)"\s*:')
_ROLE = {"AGENT": "agent", "CUSTOMER": "customer"}


def _sniff(head: str) -> bool:
    return head.lstrip().startswith("{") and bool(_TURNS.search(head)) and bool(_MARKS.search(head))


def _role(turn: dict[str, Any], where: str, participants: dict[str, str]) -> str | None:
    """'agent', 'customer', or None for other roles (SYSTEM, SUPERVISOR…) that the rules do not read."""
    raw = turn.get("ParticipantRole")
    if raw is None:
        pid = turn.get("ParticipantId")
        raw = participants.get(str(pid), pid)
    if not isinstance(raw, str):
        raise FormatError(f"field 'ParticipantRole': expected AGENT or CUSTOMER, got "
                          f"{describe(raw) if raw is not None else 'nothing (field missing)'}", where=where)
    return _ROLE.get(raw.upper())


def _call_id(doc: dict[str, Any], opts: ReadOptions) -> str:
    meta = doc.get("CustomerMetadata")
    contact = meta.get("ContactId") if isinstance(meta, dict) else None
    return contact if isinstance(contact, str) and contact else opts.call_id


def read(content: str, source: str, opts: ReadOptions) -> Iterator[Item]:
    doc = load_json(content, source, "an Amazon Transcribe Call Analytics output document")
    turns_in = require(doc, "Transcript", source, list, "a list of turns with ParticipantRole and Content")
    participants = {str(p.get("ParticipantId")): str(p.get("ParticipantRole"))
                    for p in doc.get("Participants", []) if isinstance(p, dict) and "ParticipantId" in p}
    turns: list[Turn] = []
    for i, raw in enumerate(turns_in):
        where = f"{source}:Transcript[{i}]"
        role = _role(raw, where, participants) if isinstance(raw, dict) else None
        text = require(raw, "Content", where, str, "the words of the turn")
        begin = millis(require(raw, "BeginOffsetMillis", where, (int, float), "milliseconds"),
                       where, "BeginOffsetMillis")
        end = millis(require(raw, "EndOffsetMillis", where, (int, float), "milliseconds"), where, "EndOffsetMillis")
        if role is not None:
            uid = raw.get("Id")
            turns.append(Turn(where, role, text, begin, end, uid=uid if isinstance(uid, str) else None))
    turns.sort(key=lambda t: t.start_ms)
    lang = doc.get("LanguageCode") if isinstance(doc.get("LanguageCode"), str) else None
    yield from events(turns, {"agent": "agent", "customer": "customer"}, opts, call_id=_call_id(doc, opts),
                      where=f"{source}:1", lang=lang)


FORMAT = Format("transcribe-analytics",
                "Amazon Transcribe Call Analytics / Contact Lens output JSON (Transcript[] with ParticipantRole)",
                _sniff, read)
