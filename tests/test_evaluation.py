"""assist eval: labelled calls replayed through the bundled rules, figures and the call ids behind them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assist.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

CALM_BOOKING = """\
Agent: Good morning, thanks for calling Riverside Hotel, how can I help?
Customer: Hi, I'd like to book a double room for two nights from the twelfth of May, please.
Agent: Of course. Can I have your name, please?
Customer: It's Anna Berg.
Agent: Thank you. That's booked, you'll receive the confirmation by email today. Does that work for you?
Customer: Yes, perfect, thank you.
Agent: Is there anything else I can help with?
Customer: No, that's all. Bye.
"""


@pytest.fixture()
def calls(tmp_path: Path) -> list[Path]:
    calm = tmp_path / "calm_booking_en.txt"
    calm.write_text(CALM_BOOKING, encoding="utf-8")
    return [EXAMPLES / "angry_refund_en.txt", EXAMPLES / "know_it_all_zh.txt", calm]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["eval", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def test_an_angry_caller_is_noticed_and_a_calm_booking_is_not(
        calls: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write(tmp_path / "labels.json", {"angry_refund_en": {"difficult": True},
                                              "calm_booking_en": {"difficult": False},
                                              "no_such_call": {"difficult": True}})
    code, res = run_json(capsys, *map(str, calls), "--labels", str(labels))
    assert code == 0
    assert (res["calls"], res["difficult"], res["fine"]) == (2, 1, 1)
    assert (res["noticed_difficult"], res["noticed_fine"], res["gap"]) == (1.0, 0.0, 1.0)
    assert res["noticed"] == {"difficult": 1, "fine": 0, "difficult_calls": ["angry_refund_en"], "fine_calls": []}
    # the calls behind the numbers: which rule noticed the angry caller, which type they ended as
    rules = res["rules"]
    assert isinstance(rules, dict)
    assert "angry_refund_en" in rules["acknowledge-emotion"]["difficult_calls"]
    assert res["languages"]["en"]["difficult"] == 1  # type: ignore[index]
    # nothing dropped silently: a replayed call with no label, a label with no call
    assert res["unlabelled_calls"] == ["know_it_all_zh"]
    assert res["labels_without_call"] == ["no_such_call"]


def test_noticed_can_be_redefined_and_must_name_types_or_rules(
        calls: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write(tmp_path / "labels.json", {"angry_refund_en": {"difficult": True},
                                              "know_it_all_zh": {"difficult": False}})
    code, res = run_json(capsys, *map(str, calls), "--labels", str(labels), "--noticed", "tip-know-it-all")
    assert code == 0
    assert res["noticed_by"] == ["tip-know-it-all"]
    assert (res["noticed_difficult"], res["noticed_fine"]) == (0.0, 1.0)
    assert main(["eval", str(calls[0]), "--labels", str(labels), "--noticed", "angry,tip-agnry"]) == 2
    assert "tip-agnry" in capsys.readouterr().err


def test_scores_become_labels_with_thresholds_and_the_middle_is_left_out(
        calls: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write(tmp_path / "scores.json", {"angry_refund_en": {"S": -1.4}, "calm_booking_en": {"S": 1.2},
                                              "know_it_all_zh": {"S": -0.3}})
    code, res = run_json(capsys, *map(str, calls), "--labels", str(labels), "--score", "S")
    assert code == 0
    assert (res["difficult"], res["fine"], res["left_out_calls"]) == (1, 1, ["know_it_all_zh"])
    assert res["unlabelled_calls"] == []


def test_a_bad_label_names_the_call_and_what_was_expected(
        calls: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write(tmp_path / "labels.json", {"angry_refund_en": {"difficult": "yes"}})
    assert main(["eval", str(calls[0]), "--labels", str(labels)]) == 2
    err = capsys.readouterr().err
    assert "angry_refund_en" in err and '{"difficult": true|false}' in err


def test_the_table_shows_the_headline_per_language_and_the_unlabelled(
        calls: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write(tmp_path / "labels.json", {"angry_refund_en": {"difficult": True},
                                              "calm_booking_en": {"difficult": False}})
    assert main(["eval", *map(str, calls), "--labels", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "100.0 % (1)" in out and "0.0 % (0)" in out
    assert "1 replayed call(s) have no label: know_it_all_zh" in out
