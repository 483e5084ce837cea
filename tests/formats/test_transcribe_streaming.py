"""Amazon Transcribe streaming TranscriptEvents: partials replaced by their final, agent by channel or speaker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assist.cli import main
from assist.errors import FormatError
from assist.formats import Item, ReadOptions, read_file

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples/formats/transcribe_streaming_en.jsonl"


def items(path: Path, **opts: Any) -> list[Item]:
    return list(read_file(path, None, ReadOptions(call_id=path.stem, **opts)))


def utterances(path: Path, **opts: Any) -> list[dict[str, Any]]:
    return [i.event for i in items(path, **opts) if i.event and i.event["type"] == "utterance"]


def result(rid: str, text: str, start: float, end: float, partial: bool, channel: str | None = "ch_0",
           speaker: str | None = None) -> dict[str, Any]:
    words = [{"Content": w, "StartTime": start, "EndTime": end, "Type": "pronunciation",
              **({"Speaker": speaker} if speaker is not None else {})} for w in text.split()]
    r: dict[str, Any] = {"ResultId": rid, "StartTime": start, "EndTime": end, "IsPartial": partial,
                         "Alternatives": [{"Transcript": text, "Items": words}]}
    if channel is not None:
        r["ChannelId"] = channel
    return {"Transcript": {"Results": [r]}}


def test_partials_share_the_result_id_and_each_final_comes_once() -> None:
    utts = utterances(SAMPLE, agent_channel="ch_1")
    finals = [u for u in utts if u["final"]]
    assert len(finals) == 10 and len({u["utterance_id"] for u in finals}) == 10
    partials = [u for u in utts if not u["final"]]
    assert partials and {u["utterance_id"] for u in partials} <= {u["utterance_id"] for u in finals}
    first_partial = partials[0]
    final = next(u for u in finals if u["utterance_id"] == first_partial["utterance_id"])
    assert final["text"].startswith(first_partial["text"].split()[0])
    assert [u["speaker"] for u in finals[:2]] == ["agent", "customer"]
    assert finals[0] == {"type": "utterance", "call_id": "transcribe_streaming_en", "speaker": "agent",
                         "text": "Northwind Broadband, Sam speaking.", "start_ms": 800,
                         "end_ms": finals[0]["end_ms"], "final": True, "utterance_id": finals[0]["utterance_id"]}


def test_channel_option_is_required_and_the_error_lists_channels() -> None:
    with pytest.raises(FormatError, match=r"cannot tell which channel is the agent: expected --agent-channel "
                                          r"\(e.g. --agent-channel ch_0\), found channels ch_0, ch_1"):
        items(SAMPLE)


def test_json_array_of_wrapped_events_with_speaker_partitioning(tmp_path: Path) -> None:
    events = [{"TranscriptEvent": result("r1", "Where is", 0.5, 1.0, True, None, None)},
              {"TranscriptEvent": result("r1", "Where is my refund?", 0.5, 2.0, False, None, "0")},
              {"TranscriptEvent": result("r2", "It's company policy.", 2.5, 3.5, False, None, "1")}]
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(events, indent=1))
    utts = utterances(path, agent_speaker="spk_1")
    assert [(u["speaker"], u["final"], u["utterance_id"]) for u in utts] == [
        ("customer", False, "r1"), ("customer", True, "r1"), ("agent", True, "r2")]
    with pytest.raises(FormatError, match=r"expected --agent-speaker .*found speakers spk_0, spk_1"):
        items(path)


def test_no_channel_and_no_speaker_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "mono.jsonl"
    path.write_text(json.dumps(result("r1", "hello there", 0, 1, False, None)) + "\n")
    with pytest.raises(FormatError, match=r"mono.jsonl:1:Results\[0\]: expected a ChannelId .* or "
                                          r"Items\[\].Speaker .* got neither"):
        items(path, agent_channel="0")


def test_bad_lines_are_problems_with_file_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(result("r1", "Where is my refund?", 0.5, 2.0, False, "ch_0")), "{not json",
             json.dumps({"Transcript": {"Results": [{"ResultId": "r2", "StartTime": "x"}]}}),
             json.dumps(result("r3", "It's company policy.", 2.5, 3.5, False, "ch_1"))]
    path.write_text("\n".join(lines) + "\n")
    got = items(path, agent_channel="ch_1")
    problems = [f"{i.where}: {i.problem}" for i in got if i.problem]
    assert problems[0].startswith("bad.jsonl:2: expected a JSON object, got invalid JSON".replace(
        "bad.jsonl", str(path)))
    assert problems[1] == f"{path}:3:Results[0]: field 'StartTime': expected seconds, got 'x'"
    assert [e["text"] for e in (i.event for i in got if i.event) if e["type"] == "utterance"] == [
        "Where is my refund?", "It's company policy."]


def test_replay_raises_the_prompts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json", "--agent-channel", "1", str(SAMPLE)]) == 0
    outputs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rules = [o["rule"] for o in outputs if o["kind"] == "prompt"]
    assert {"acknowledge-before-apology", "avoid-policy"} <= set(rules)
    assert rules.count("avoid-policy") == 1  # partials never raise prompts; the final raises it once
