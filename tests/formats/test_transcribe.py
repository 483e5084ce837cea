"""Amazon Transcribe batch output: words grouped into turns per speaker or channel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assist.cli import main
from assist.errors import FormatError
from assist.formats import ReadOptions, read_file

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples/formats/transcribe_batch_en.json"


def read(path: Path, **opts: Any) -> list[dict[str, Any]]:
    items = list(read_file(path, None, ReadOptions(call_id=path.stem, **opts)))
    assert [i.problem for i in items if i.problem] == []
    return [i.event for i in items if i.event is not None]


def test_words_become_turns_per_speaker_with_punctuation_and_ms() -> None:
    events = read(SAMPLE, agent_speaker="spk_0")
    assert events[0] == {"type": "call.start", "call_id": "transcribe_batch_en", "t_ms": 0}
    utts = [e for e in events if e["type"] == "utterance"]
    assert len(utts) == 10
    assert [u["speaker"] for u in utts[:3]] == ["agent", "customer", "agent"]
    assert utts[0]["text"] == "Northwind Broadband, Sam speaking."
    assert utts[6]["text"] == "It's company policy."
    assert utts[0]["start_ms"] == 800 and all(isinstance(u["end_ms"], int) for u in utts)
    assert all(u["final"] for u in utts)
    assert events[-1] == {"type": "call.end", "call_id": "transcribe_batch_en", "t_ms": utts[-1]["end_ms"]}


def test_agent_speaker_accepts_a_bare_number() -> None:
    assert read(SAMPLE, agent_speaker="0")[1]["speaker"] == "agent"
    assert read(SAMPLE, agent_speaker="1")[1]["speaker"] == "customer"


def test_without_the_option_the_error_names_it_and_the_speakers_found() -> None:
    with pytest.raises(FormatError, match=r"transcribe_batch_en.json: cannot tell which speaker is the agent: "
                                          r"expected --agent-speaker .*found speakers spk_0, spk_1"):
        read(SAMPLE)
    with pytest.raises(FormatError, match=r"--agent-channel does not apply, this file labels speakers"):
        read(SAMPLE, agent_channel="ch_1")
    with pytest.raises(FormatError, match=r"--agent-speaker spk_7: expected one of the speakers in the file "
                                          r"\(spk_0, spk_1\)"):
        read(SAMPLE, agent_speaker="spk_7")


def _item(content: str, start: float, end: float) -> dict[str, Any]:
    return {"start_time": f"{start:.2f}", "end_time": f"{end:.2f}", "type": "pronunciation",
            "alternatives": [{"confidence": "0.99", "content": content}]}


def test_channel_labels_in_the_older_layout(tmp_path: Path) -> None:
    punct = {"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": "."}]}
    doc = {"jobName": "j", "accountId": "1", "status": "COMPLETED", "results": {
        "transcripts": [{"transcript": "..."}],
        "channel_labels": {"number_of_channels": 2, "channels": [
            {"channel_label": "ch_0", "items": [_item("This", 0.5, 0.7), _item("is", 0.7, 0.8),
                                                 _item("ridiculous", 0.8, 1.4), punct]},
            {"channel_label": "ch_1", "items": [_item("It's", 2.0, 2.2), _item("company", 2.2, 2.6),
                                                 _item("policy", 2.6, 3.0), punct]}]},
        "items": []}}
    path = tmp_path / "call-42.json"
    path.write_text(json.dumps(doc))
    utts = [e for e in read(path, agent_channel="1") if e["type"] == "utterance"]
    assert [(u["speaker"], u["text"], u["start_ms"], u["end_ms"]) for u in utts] == [
        ("customer", "This is ridiculous.", 500, 1400), ("agent", "It's company policy.", 2000, 3000)]
    with pytest.raises(FormatError, match=r"expected --agent-channel .*found channels ch_0, ch_1"):
        read(path)


def test_segments_give_the_speaker_when_items_carry_none(tmp_path: Path) -> None:
    doc = {"results": {"transcripts": [{"transcript": "Hi there"}],
                       "speaker_labels": {"speakers": 1, "segments": [{"speaker_label": "spk_0", "items": [
                           {"start_time": "0.10", "end_time": "0.30", "speaker_label": "spk_0"},
                           {"start_time": "0.30", "end_time": "0.60", "speaker_label": "spk_0"}]}]},
                       "items": [_item("Hi", 0.1, 0.3), _item("there", 0.3, 0.6)]}}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    assert [e["text"] for e in read(path, agent_speaker="spk_0") if e["type"] == "utterance"] == ["Hi there"]


@pytest.mark.parametrize(("results", "message"), [
    ({"transcripts": [], "items": "nope"}, r"bad.json:results: field 'items': expected a list of items"),
    ({"transcripts": [], "items": [{"type": "pronunciation", "alternatives": [{"content": "hi"}],
                                    "start_time": "x", "end_time": "1"}]},
     r"bad.json:results.items\[0\]: field 'start_time': expected seconds as a number, got 'x'"),
    ({"transcripts": [], "items": [_item("hi", 0, 1)]},
     r"bad.json:results.items\[0\]: expected a speaker_label or channel_label for the word 'hi', got none"),
])
def test_malformed_documents_say_where_and_what(tmp_path: Path, results: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"results": results}))
    with pytest.raises(FormatError, match=message):
        read(path, agent_speaker="0")


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"jobName": "j", "accountId": "1",\n "results": {"transcripts": [}')
    with pytest.raises(FormatError, match=r"broken.json:2: expected an Amazon Transcribe output document, "
                                          r"got invalid JSON"):
        read(path)


def test_replay_raises_the_prompts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json", "--agent-speaker", "spk_0", str(SAMPLE)]) == 0
    rules = [json.loads(line).get("rule") for line in capsys.readouterr().out.splitlines()]
    assert {"tip-angry", "acknowledge-before-apology", "avoid-policy"} <= set(rules)


def test_replay_without_the_option_fails_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json", str(SAMPLE)]) == 1
    err = capsys.readouterr().err
    assert "expected --agent-speaker" in err and "Traceback" not in err
