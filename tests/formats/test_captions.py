"""WebVTT and SRT captions: voice tags or label prefixes, cues merged into turns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assist.cli import main
from assist.errors import FormatError
from assist.formats import Item, ReadOptions, read_file

ROOT = Path(__file__).resolve().parents[2]
VTT = ROOT / "examples/formats/call_en.vtt"
SRT = ROOT / "examples/formats/call_zh.srt"


def items(path: Path, **opts: Any) -> list[Item]:
    return list(read_file(path, None, ReadOptions(call_id=path.stem, **opts)))


def utterances(path: Path, **opts: Any) -> list[dict[str, Any]]:
    return [i.event for i in items(path, **opts) if i.event and i.event["type"] == "utterance"]


def test_vtt_voices_and_a_continuation_cue_make_one_turn() -> None:
    utts = utterances(VTT)
    assert len(utts) == 10
    assert (utts[1]["speaker"], utts[1]["text"]) == (
        "customer", "This is ridiculous. I've been waiting three weeks for my refund and nobody has called me back.")
    assert (utts[0]["start_ms"], utts[0]["end_ms"]) == (800, 2910)
    assert utts[6] == {"type": "utterance", "call_id": "call_en", "speaker": "agent", "text": "It's company policy.",
                       "start_ms": utts[6]["start_ms"], "end_ms": utts[6]["end_ms"], "final": True}


def test_srt_with_chinese_labels() -> None:
    utts = utterances(SRT)
    assert [u["speaker"] for u in utts[:3]] == ["agent", "customer", "agent"]
    assert utts[6]["text"] == "这是公司规定。"


def test_named_voices_need_the_speaker_option(tmp_path: Path) -> None:
    path = tmp_path / "named.vtt"
    path.write_text("WEBVTT\n\n00:01.000 --> 00:03.000\n<v Dana Price>This is ridiculous.\n\n"
                    "00:03.500 --> 00:05.000\n<v.loud Sam Reyes>It's <b>company</b> policy &amp; that's it.</v>\n")
    with pytest.raises(FormatError, match=r"cannot tell which speaker is the agent: expected --agent-speaker "
                                          r"\(e.g. --agent-speaker Dana Price\), found speakers Dana Price, Sam Reyes"):
        utterances(path)
    utts = utterances(path, agent_speaker="Sam Reyes")
    assert [(u["speaker"], u["text"]) for u in utts] == [
        ("customer", "This is ridiculous."), ("agent", "It's company policy & that's it.")]


def test_prefixes_two_voices_in_one_cue_and_hour_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "mixed.srt"
    path.write_text("1\n01:00:01,000 --> 01:00:04,000\n- Customer: Where is my refund?\n- Agent: Let me check.\n\n"
                    "2\n01:00:04,500 --> 01:00:06,000\nIt's company policy.\n")
    utts = utterances(path)
    assert [(u["speaker"], u["text"], u["start_ms"]) for u in utts] == [
        ("customer", "Where is my refund?", 3_601_000), ("agent", "Let me check. It's company policy.", 3_601_000)]


def test_bad_cues_are_problems_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.vtt"
    path.write_text("WEBVTT\n\n00:01.000 --> 00:02.000\nno speaker yet\n\n"
                    "oops this is not a cue\n\n00:03.000 --> 00:04.000\n<v Agent>Hello.\n")
    problems = [f"{i.where}: {i.problem}" for i in items(path) if i.problem]
    assert problems == [
        f"{path}:3: expected a speaker such as '<v Agent>' or 'Customer:' on the first cue, got 'no speaker yet'",
        f"{path}:6: expected a cue timing line such as '00:00:01.000 --> 00:00:04.000', got 'oops this is not a cue'",
    ]


@pytest.mark.parametrize("path", [VTT, SRT])
def test_replay_raises_the_prompts(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json", str(path)]) == 0
    rules = [o["rule"] for o in map(json.loads, capsys.readouterr().out.splitlines()) if o["kind"] == "prompt"]
    assert {"acknowledge-before-apology", "avoid-policy"} <= set(rules)


def test_vtt_with_bulgarian_voices_replays_with_bulgarian_prompts(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "call_bg.vtt"
    path.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:03.000\n<v Клиент>Това е безобразие, вбесен съм!\n\n"
                    "00:00:03.500 --> 00:00:06.000\n<v Оператор>Съжалявам. Може ли номера на договора?\n",
                    encoding="utf-8")
    assert [u["speaker"] for u in utterances(path)] == ["customer", "agent"]
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out
    assert "━━ call call_bg · bg ━━" in out
    assert "why: Силен гняв или разочарование („безобразие“, „вбесен“)" in out
    assert "why: Извинение („Съжалявам“), преди чувството на клиента да е признато" in out
