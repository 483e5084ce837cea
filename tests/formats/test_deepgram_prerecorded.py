"""Deepgram pre-recorded responses: utterances, or words grouped per speaker or channel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assist.cli import main
from assist.errors import FormatError
from assist.formats import ReadOptions, read_file

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples/formats/deepgram_prerecorded_en.json"


def utterances(path: Path, **opts: Any) -> list[dict[str, Any]]:
    return [i.event for i in read_file(path, None, ReadOptions(call_id=path.stem, **opts))
            if i.event and i.event["type"] == "utterance"]


def test_utterances_with_speakers_and_ms() -> None:
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    utts = utterances(SAMPLE, agent_speaker="spk_0")
    assert [(u["text"], u["start_ms"], u["end_ms"]) for u in utts] == [
        (u["transcript"], round(u["start"] * 1000), round(u["end"] * 1000)) for u in doc["results"]["utterances"]]
    assert [u["speaker"] for u in utts[:2]] == ["agent", "customer"]


def test_words_are_grouped_when_there_are_no_utterances(tmp_path: Path) -> None:
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    del doc["results"]["utterances"]
    path = tmp_path / "words.json"
    path.write_text(json.dumps(doc))
    assert [u["text"] for u in utterances(path, agent_speaker="0")] == [
        u["text"] for u in utterances(SAMPLE, agent_speaker="0")]


def test_multichannel_words(tmp_path: Path) -> None:
    def channel(words: list[tuple[str, float]]) -> dict[str, Any]:
        return {"alternatives": [{"transcript": "", "words": [
            {"word": w.lower(), "punctuated_word": w, "start": t, "end": t + 0.3} for w, t in words]}]}
    doc = {"metadata": {"request_id": "r", "channels": 2},
           "results": {"channels": [channel([("Refund", 0.5), ("please.", 0.9)]),
                                    channel([("Company", 2.0), ("policy.", 2.4)])]}}
    path = tmp_path / "mc.json"
    path.write_text(json.dumps(doc))
    assert [(u["speaker"], u["text"]) for u in utterances(path, agent_channel="1")] == [
        ("customer", "Refund please."), ("agent", "Company policy.")]
    with pytest.raises(FormatError, match=r"expected --agent-channel .*found channels ch_0, ch_1"):
        utterances(path)


def test_missing_fields_are_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"metadata": {"request_id": "r"}, "results": {"utterances": [
        {"start": 0.1, "end": 0.5, "transcript": "hi"}]}}))
    with pytest.raises(FormatError, match=r"bad.json:results.utterances\[0\]: field 'speaker': expected the "
                                          r"speaker number \(diarize=true\), got nothing"):
        utterances(path, agent_speaker="0")
    path.write_text(json.dumps({"metadata": {"request_id": "r"}, "results": {"summary": {}}}))
    with pytest.raises(FormatError, match="field 'results': expected 'utterances' or 'channels', got keys summary"):
        utterances(path)


def test_replay_raises_the_prompts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json", "--agent-speaker", "0", str(SAMPLE)]) == 0
    rules = [o["rule"] for o in map(json.loads, capsys.readouterr().out.splitlines()) if o["kind"] == "prompt"]
    assert {"acknowledge-before-apology", "avoid-policy"} <= set(rules)
