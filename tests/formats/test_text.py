"""Plain text transcripts: speaker labels in English and Chinese, timestamps, continuation lines."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from assist.formats import ReadOptions, read_file


def read(tmp_path: Path, text: str, **opts: Any) -> tuple[list[dict[str, Any]], list[str]]:
    path = tmp_path / "call.txt"
    path.write_text(text, encoding="utf-8")
    events, problems = [], []
    for item in read_file(path, opts.pop("fmt", None), ReadOptions(call_id="call", **opts)):
        if item.problem is not None:
            problems.append(f"{item.where}: {item.problem}")
        else:
            events.append(item.event)
    return events, problems


def turns(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["speaker"], e["text"]) for e in events if e["type"] == "utterance"]


def test_agent_and_customer_lines_become_a_whole_call(tmp_path):
    events, problems = read(tmp_path, "[00:00] Customer: My order is late.\n[00:05] Agent: Let me check.\n")
    assert problems == []
    assert [e["type"] for e in events] == ["call.start", "utterance", "utterance", "call.end"]
    assert events[0] == {"type": "call.start", "call_id": "call", "lang": "en", "t_ms": 0}
    assert turns(events) == [("customer", "My order is late."), ("agent", "Let me check.")]
    assert [e["start_ms"] for e in events[1:3]] == [0, 5000]
    assert events[1]["end_ms"] <= 5000  # a turn ends no later than the next one starts
    assert events[-1]["t_ms"] >= events[2]["end_ms"]


@pytest.mark.parametrize(("label", "speaker"), [
    ("坐席", "agent"), ("客服", "agent"), ("客服人员", "agent"), ("客服人員", "agent"), ("员工", "agent"),
    ("員工", "agent"), ("客户", "customer"), ("客戶", "customer"), ("顾客", "customer"), ("顧客", "customer"),
    ("用户", "customer"), ("用戶", "customer"), ("客人", "customer"),
    ("Agent", "agent"), ("AGENT", "agent"), ("Customer", "customer"), ("caller", "customer"), ("Rep", "agent"),
])
@pytest.mark.parametrize("colon", [":", "："])
def test_speaker_labels_in_both_scripts_with_either_colon(tmp_path, label, speaker, colon):
    events, problems = read(tmp_path, f"{label}{colon}您好，请问有什么可以帮您？\n")
    assert problems == []
    assert turns(events) == [(speaker, "您好，请问有什么可以帮您？")]
    assert events[0]["lang"] == "zh"


def test_a_label_that_starts_with_another_is_read_whole(tmp_path):
    events, _ = read(tmp_path, "客服人员：您好。\n")
    assert turns(events) == [("agent", "您好。")]  # not the agent '客服' saying '人员：您好。'


@pytest.mark.parametrize(("stamp", "ms"), [("[00:07]", 7_000), ("[01:02:03]", 3_723_000), ("[1:05]", 65_000),
                                           ("(00:09)", 9_000), ("[00:01.5]", 1_500)])
def test_timestamps(tmp_path, stamp, ms):
    events, _ = read(tmp_path, f"{stamp} Agent: Hello.\n")
    assert events[1]["start_ms"] == ms


def test_lines_without_a_label_continue_the_previous_turn(tmp_path):
    text = "Customer: I've been waiting\nfor two weeks\n  and nobody called.\nAgent: Sorry.\n"
    events, problems = read(tmp_path, text)
    assert problems == []
    assert turns(events) == [("customer", "I've been waiting for two weeks and nobody called."),
                             ("agent", "Sorry.")]


def test_comments_and_blank_lines_are_skipped(tmp_path):
    events, problems = read(tmp_path, "# a recorded call\n\nAgent: Hello.\n\n# note\nCustomer: Hi.\n")
    assert problems == []
    assert turns(events) == [("agent", "Hello."), ("customer", "Hi.")]


def test_without_timestamps_times_are_estimated_and_increase(tmp_path):
    lines = ["Customer: Hello, I have a problem with my bill this month.", "Agent: Sure.",
             "客户：我的账单不对。", "Agent: Let me look into that for you right away."]
    events, _ = read(tmp_path, "\n".join(lines) + "\n")
    utterances = [e for e in events if e["type"] == "utterance"]
    for u in utterances:
        assert u["end_ms"] > u["start_ms"]
    for a, b in itertools.pairwise(utterances):
        assert b["start_ms"] >= a["end_ms"]
    long, short = utterances[0], utterances[1]
    assert long["end_ms"] - long["start_ms"] > short["end_ms"] - short["start_ms"]


def test_a_first_line_without_a_label_is_a_problem_with_its_line(tmp_path):
    events, problems = read(tmp_path, "Agent: Hello.\n", fmt="text")
    assert problems == []
    events, problems = read(tmp_path, "hello there\nAgent: Hello.\n", fmt="text")
    assert problems == ["{}:1: expected a turn starting with a speaker label such as 'Agent:', '客户：' or 'Клиент:', "
                        "got 'hello there'".format(tmp_path / "call.txt")]
    assert turns(events) == [("agent", "Hello.")]


def test_lang_option_overrides_detection(tmp_path):
    events, _ = read(tmp_path, "Agent: Hello.\n", lang="zh-TW")
    assert events[0]["lang"] == "zh-TW"


def test_traditional_chinese_example_replays_with_traditional_prompts(capsys):
    from assist import DEFAULT_RULES
    from assist.cli import main

    example = DEFAULT_RULES.parent / "examples" / "hotel_midnight_call_zh.txt"
    assert main(["replay", str(example), "--lang", "zh-TW"]) == 0
    out = capsys.readouterr().out
    assert "客戶" in out or "客户" not in out
    assert "先認可情緒再道歉" in out


@pytest.mark.parametrize(("label", "speaker"), [
    ("Агент", "agent"), ("АГЕНТ", "agent"), ("Оператор", "agent"), ("Операторка", "agent"), ("Служител", "agent"),
    ("Служителка", "agent"), ("Консултант", "agent"), ("Клиент", "customer"), ("клиент", "customer"),
    ("Клиентка", "customer"),
])
def test_bulgarian_speaker_labels(tmp_path, label, speaker):
    events, problems = read(tmp_path, f"{label}: Добър ден, с какво мога да помогна?\n")
    assert problems == []
    assert turns(events) == [(speaker, "Добър ден, с какво мога да помогна?")]
    assert events[0]["lang"] == "bg"


def test_a_bulgarian_call_with_timestamps(tmp_path):
    events, problems = read(tmp_path, "[00:00] Клиент: Таксувахте ме два пъти!\n"
                                      "[00:04] Служител: Разбирам колко е неприятно. Нека проверя.\n")
    assert problems == []
    assert [(e["speaker"], e["start_ms"]) for e in events if e["type"] == "utterance"] == [("customer", 0),
                                                                                          ("agent", 4000)]
