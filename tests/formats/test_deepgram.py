"""Deepgram streaming messages: is_final pieces joined until speech_final, interim results as partials."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assist.cli import main
from assist.errors import FormatError
from assist.formats import Item, ReadOptions, detect, read_file

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples/formats/deepgram_streaming_en.jsonl"


def items(path: Path, **opts: Any) -> list[Item]:
    return list(read_file(path, None, ReadOptions(call_id=path.stem, **opts)))


def utterances(path: Path, **opts: Any) -> list[dict[str, Any]]:
    return [i.event for i in items(path, **opts) if i.event and i.event["type"] == "utterance"]


def message(text: str, start: float, end: float, *, final: bool, speech_final: bool = False,
            channel: tuple[int, int] = (0, 1), speaker: int | None = None) -> dict[str, Any]:
    words = [{"word": w.lower().strip(".,?"), "punctuated_word": w, "start": start, "end": end, "confidence": 0.9,
              **({"speaker": speaker} if speaker is not None else {})} for w in text.split()]
    return {"type": "Results", "channel_index": list(channel), "start": start, "duration": end - start,
            "is_final": final, "speech_final": speech_final,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.9, "words": words}]}}


def test_sample_is_not_taken_for_the_native_jsonl_format() -> None:
    assert detect(SAMPLE.read_text(encoding="utf-8")[:4096], str(SAMPLE)).name == "deepgram"


def test_final_pieces_join_into_one_utterance_emitted_once() -> None:
    utts = utterances(SAMPLE, agent_speaker="0")
    finals = [u for u in utts if u["final"]]
    assert len(finals) == 10
    assert finals[1]["text"] == ("This is ridiculous. I've been waiting three weeks for my refund and nobody "
                                 "has called me back.")  # two is_final pieces, one speech_final
    assert [u["speaker"] for u in finals[:3]] == ["agent", "customer", "agent"]
    partial_ids = {u["utterance_id"] for u in utts if not u["final"]}
    assert partial_ids and partial_ids <= {u["utterance_id"] for u in finals}
    assert finals[0]["start_ms"] == 800


def test_speaker_option_required_with_diarize() -> None:
    with pytest.raises(FormatError, match=r"expected --agent-speaker .*found speakers spk_0, spk_1"):
        items(SAMPLE)


def test_multichannel_uses_the_channel_option(tmp_path: Path) -> None:
    lines = [{"type": "Metadata", "request_id": "r", "channels": 2},
             message("Where is", 0.5, 1.0, final=False, channel=(0, 2)),
             message("Where is my refund?", 0.5, 2.0, final=True, speech_final=True, channel=(0, 2)),
             message("It's company policy.", 2.5, 3.5, final=True, channel=(1, 2)),
             {"type": "UtteranceEnd", "channel": [1, 2], "last_word_end": 3.5}]
    path = tmp_path / "mc.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    utts = utterances(path, agent_channel="ch_1")
    assert [(u["speaker"], u["text"], u["final"]) for u in utts] == [
        ("customer", "Where is", False), ("customer", "Where is my refund?", True),
        ("agent", "It's company policy.", False), ("agent", "It's company policy.", True)]
    assert utts[0]["utterance_id"] == utts[1]["utterance_id"] == "dg-0-500"
    assert (utts[1]["start_ms"], utts[1]["end_ms"]) == (500, 2000)


def test_a_speaker_change_inside_one_message_splits_the_turn(tmp_path: Path) -> None:
    msg = message("Refund please.", 0.0, 1.0, final=True, speaker=1)
    msg["channel"]["alternatives"][0]["words"] += [
        {"word": "policy", "punctuated_word": "Policy.", "start": 1.5, "end": 2.0, "speaker": 0}]
    msg["speech_final"] = True
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(msg) + "\n")
    finals = [u for u in utterances(path, agent_speaker="spk_0") if u["final"]]
    assert [(u["speaker"], u["text"]) for u in finals] == [("customer", "Refund please."), ("agent", "Policy.")]


def test_neither_diarize_nor_multichannel_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "mono.jsonl"
    path.write_text(json.dumps(message("hello", 0, 1, final=True, speech_final=True)) + "\n")
    with pytest.raises(FormatError, match=r"mono.jsonl:1: expected words\[\].speaker \(diarize=true\) or "
                                          r"channel_index"):
        items(path, agent_speaker="0")


def test_bad_messages_are_problems_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = message("Where is my refund?", 0.5, 2.0, final=True, speech_final=True, speaker=1)
    path.write_text("\n".join([json.dumps(good), "[1, 2", json.dumps({"type": "Oops"}),
                               json.dumps({**good, "start": "soon"})]) + "\n")
    problems = [f"{i.where}: {i.problem}" for i in items(path, agent_speaker="1") if i.problem]
    assert problems[0].startswith(f"{path}:2: expected a JSON object, got invalid JSON")
    assert problems[1] == (f"{path}:3: field 'type': expected one of Results, Metadata, SpeechStarted, "
                           "UtteranceEnd, got 'Oops'")
    assert problems[2] == f"{path}:4: field 'start': expected seconds, got 'soon'"


def test_replay_raises_the_prompts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json", "--agent-speaker", "spk_0", str(SAMPLE)]) == 0
    outputs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rules = [o["rule"] for o in outputs if o["kind"] == "prompt"]
    assert {"tip-angry", "acknowledge-before-apology", "avoid-policy"} <= set(rules)
    assert rules.count("avoid-policy") == 1
