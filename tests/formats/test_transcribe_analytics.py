"""Amazon Transcribe Call Analytics / Contact Lens output: the file says who the agent is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assist.cli import main
from assist.errors import FormatError
from assist.formats import ReadOptions, read_file

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples/formats/transcribe_analytics_en.json"


def read(path: Path, **opts: Any) -> list[dict[str, Any]]:
    return [i.event for i in read_file(path, None, ReadOptions(call_id=path.stem, **opts)) if i.event]


def test_turns_keep_role_text_and_millisecond_offsets() -> None:
    events = read(SAMPLE)
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert events[0] == {"type": "call.start", "call_id": "transcribe_analytics_en", "t_ms": 0, "lang": "en-US"}
    utts = events[1:-1]
    assert [(u["speaker"], u["text"], u["start_ms"], u["end_ms"]) for u in utts] == [
        (t["ParticipantRole"].lower(), t["Content"], t["BeginOffsetMillis"], t["EndOffsetMillis"])
        for t in doc["Transcript"]]
    assert all(u["final"] and u["utterance_id"] for u in utts)
    assert events[-1]["type"] == "call.end" and events[-1]["t_ms"] == utts[-1]["end_ms"]


def test_contact_lens_participant_ids_and_contact_id(tmp_path: Path) -> None:
    doc = {"Version": "1.1.0", "Channel": "VOICE", "LanguageCode": "en-GB",
           "CustomerMetadata": {"ContactId": "c0ffee-17"},
           "Participants": [{"ParticipantId": "AGENT", "ParticipantRole": "AGENT"},
                            {"ParticipantId": "CUSTOMER", "ParticipantRole": "CUSTOMER"}],
           "Transcript": [
               {"BeginOffsetMillis": 0, "EndOffsetMillis": 900, "Content": "Your call is being recorded.",
                "Id": "s", "ParticipantId": "SYSTEM", "Sentiment": "NEUTRAL"},
               {"BeginOffsetMillis": 1000, "EndOffsetMillis": 2500, "Content": "Where is my refund?",
                "Id": "a", "ParticipantId": "CUSTOMER", "Sentiment": "NEGATIVE"},
               {"BeginOffsetMillis": 2600, "EndOffsetMillis": 3500, "Content": "It's company policy.",
                "Id": "b", "ParticipantId": "AGENT", "Sentiment": "NEUTRAL"}]}
    path = tmp_path / "contact.json"
    path.write_text(json.dumps(doc))
    events = read(path)
    assert {e["call_id"] for e in events} == {"c0ffee-17"}
    assert [(e["speaker"], e["start_ms"]) for e in events if e["type"] == "utterance"] == [
        ("customer", 1000), ("agent", 2600)]  # the SYSTEM prompt is not read by the rules


@pytest.mark.parametrize(("turn", "message"), [
    ({"BeginOffsetMillis": 0, "EndOffsetMillis": 10, "ParticipantRole": "AGENT"},
     r"t.json:Transcript\[0\]: field 'Content': expected the words of the turn, got nothing \(field missing\)"),
    ({"BeginOffsetMillis": "soon", "EndOffsetMillis": 10, "ParticipantRole": "AGENT", "Content": "hi"},
     r"t.json:Transcript\[0\]: field 'BeginOffsetMillis': expected milliseconds, got 'soon'"),
    ({"BeginOffsetMillis": 0, "EndOffsetMillis": 10, "Content": "hi"},
     r"t.json:Transcript\[0\]: field 'ParticipantRole': expected AGENT or CUSTOMER, got nothing"),
])
def test_malformed_turns_name_the_turn_and_field(tmp_path: Path, turn: dict[str, Any], message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"JobStatus": "COMPLETED", "Transcript": [turn]}))
    with pytest.raises(FormatError, match=message):
        read(path)


def test_replay_raises_the_prompts_without_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json", str(SAMPLE)]) == 0
    rules = [json.loads(line).get("rule") for line in capsys.readouterr().out.splitlines()]
    assert {"acknowledge-before-apology", "avoid-policy"} <= set(rules)
