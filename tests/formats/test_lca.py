"""Live Call Analytics call events: the file names the call, the agent and each channel's role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assist.cli import main
from assist.formats import Item, ReadOptions, read_file

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples/formats/lca_zh.jsonl"
CALL = "a3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def items(path: Path, **opts: Any) -> list[Item]:
    return list(read_file(path, None, ReadOptions(call_id=path.stem, **opts)))


def segment(call: str, channel: str, sid: str, start: Any, end: Any, text: str, partial: bool) -> dict[str, Any]:
    return {"EventType": "ADD_TRANSCRIPT_SEGMENT", "CallId": call, "Channel": channel, "SegmentId": sid,
            "StartTime": start, "EndTime": end, "Transcript": text, "IsPartial": partial}


def write(tmp_path: Path, lines: list[Any]) -> Path:
    path = tmp_path / "calls.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines))
    return path


def test_sample_call_id_agent_partials_and_string_seconds() -> None:
    events = [i.event for i in items(SAMPLE) if i.event]
    assert events[0] == {"type": "call.start", "call_id": CALL, "t_ms": 0, "agent_id": "wang.xiao"}
    assert events[-1]["type"] == "call.end" and events[-1]["t_ms"] == events[-2]["end_ms"]
    utts = [e for e in events if e["type"] == "utterance"]
    finals = [u for u in utts if u["final"]]
    assert len(finals) == 10 and len({u["utterance_id"] for u in finals}) == 10
    partial = next(u for u in utts if not u["final"])
    final = next(u for u in finals if u["utterance_id"] == partial["utterance_id"])
    assert final["text"].startswith(partial["text"]) and final["start_ms"] == partial["start_ms"]
    first = (finals[0]["speaker"], finals[0]["text"], finals[0]["start_ms"])
    assert first == ("agent", "您好，这里是华通宽带，我是小王。", 800)
    assert finals[1]["speaker"] == "customer"


def test_interleaved_calls_duplicates_and_other_event_types(tmp_path: Path) -> None:
    path = write(tmp_path, [
        {"EventType": "START", "CallId": "c1"}, {"EventType": "START", "CallId": "c2"},
        segment("c1", "CALLER", "s1", 0.5, 2.0, "Where is my refund?", False),
        segment("c2", "AGENT", "s9", 0.4, 1.0, "Hello.", False),
        segment("c1", "CALLER", "s1", 0.5, 2.0, "Where is my refund?", False),  # delivered twice
        {"EventType": "ADD_CALL_CATEGORY", "CallId": "c1", "CategoryEvent": {}},
        segment("c1", "AGENT", "s2", "2.5", "3.5", "It's company policy.", False),
        {"EventType": "END", "CallId": "c1"}, {"EventType": "END", "CallId": "c2"}])
    events = [i.event for i in items(path) if i.event]
    assert [(e["type"], e["call_id"]) for e in events] == [
        ("call.start", "c1"), ("call.start", "c2"), ("utterance", "c1"), ("utterance", "c2"),
        ("utterance", "c1"), ("call.end", "c1"), ("call.end", "c2")]
    assert events[4]["start_ms"] == 2500 and events[5]["t_ms"] == 3500


def test_call_analytics_utterance_and_transcript_event_payloads(tmp_path: Path) -> None:
    utterance = {"ParticipantRole": "CUSTOMER", "UtteranceId": "u1", "BeginOffsetMillis": 100,
                 "EndOffsetMillis": 1900, "Transcript": "Where is my refund?", "IsPartial": False}
    transcript = {"Transcript": {"Results": [{"ResultId": "r1", "ChannelId": "ch_1", "StartTime": 2.0,
                                              "EndTime": 3.0, "IsPartial": False,
                                              "Alternatives": [{"Transcript": "It's company policy."}]}]}}
    path = write(tmp_path, [{"EventType": "ADD_TRANSCRIPT_SEGMENT", "CallId": "c", "UtteranceEvent": utterance},
                            {"EventType": "ADD_TRANSCRIPT_SEGMENT", "CallId": "c", "TranscriptEvent": transcript},
                            {"EventType": "END", "CallId": "c"}])
    utts = [i.event for i in items(path) if i.event and i.event["type"] == "utterance"]
    assert [(u["speaker"], u["start_ms"], u["utterance_id"]) for u in utts] == [
        ("customer", 100, "u1"), ("agent", 2000, "r1")]


def test_bad_lines_are_problems_with_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, [{"EventType": "START", "CallId": "c"}, "{oops",
                            {"EventType": "ADD_TRANSCRIPT_SEGMENT", "CallId": "c", "Channel": "AGENT",
                             "SegmentId": "s", "StartTime": 1, "EndTime": 2, "IsPartial": False},
                            {"EventType": "START"},
                            {"EventType": "END", "CallId": "c"},
                            segment("c", "AGENT", "s2", 3, 4, "Late.", False)])
    problems = [f"{i.where}: {i.problem}" for i in items(path) if i.problem]
    assert problems == [
        f"{path}:2: expected a JSON object, got invalid JSON (Expecting property name enclosed in double quotes"
        " at column 2)",
        f"{path}:3: field 'Transcript': expected the segment text, got nothing (field missing)",
        f"{path}:4: field 'CallId': expected the call id, got nothing (field missing)",
        f"{path}:6: call 'c' already ended: expected segments before END",
    ]


def test_replay_raises_the_chinese_prompts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json", str(SAMPLE)]) == 0
    prompts = [o for o in map(json.loads, capsys.readouterr().out.splitlines()) if o["kind"] == "prompt"]
    assert {"acknowledge-before-apology", "avoid-policy"} <= {p["rule"] for p in prompts}
    assert all(p["call_id"] == CALL for p in prompts)
    assert "公司规定" in next(p for p in prompts if p["rule"] == "avoid-policy")["why"]
