"""The native JSON Lines stream: interleaved calls, bad lines reported with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assist import load_rules
from assist.cli import main
from assist.replay import Problem, Step, replay


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def utterance(call_id: str, speaker: str, text: str, t: int) -> dict[str, object]:
    return {"type": "utterance", "call_id": call_id, "speaker": speaker, "text": text,
            "start_ms": t, "end_ms": t + 1000, "final": True}


INTERLEAVED = [
    {"type": "call.start", "call_id": "a", "lang": "en", "t_ms": 0},
    {"type": "call.start", "call_id": "b", "lang": "zh", "t_ms": 0},
    utterance("a", "customer", "This is ridiculous, I've been waiting two weeks!", 1000),
    utterance("b", "customer", "你们这是推卸责任，太过分了！", 1500),
    utterance("a", "agent", "I'm sorry about that.", 3000),
    utterance("b", "agent", "对不起。", 3500),
    {"type": "call.end", "call_id": "b", "t_ms": 5000},
    {"type": "call.end", "call_id": "a", "t_ms": 6000},
]


def write_jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n"
                            for x in lines), encoding="utf-8")
    return path


def test_interleaved_calls_each_get_their_own_prompts(tmp_path, rules):
    path = write_jsonl(tmp_path / "two.jsonl", INTERLEAVED)
    items = list(replay([path], rules))
    assert not [i for i in items if isinstance(i, Problem)]
    raised = [(o.call_id, o.say[:6]) for i in items if isinstance(i, Step) for o in i.outputs
              if o.kind == "prompt" and o.rule == "acknowledge-before-apology"]
    assert raised == [("a", "Name t"), ("b", "先认可情绪再")]
    summaries = [o.call_id for i in items if isinstance(i, Step) for o in i.outputs if o.kind == "summary"]
    assert summaries == ["b", "a"]


def test_each_step_says_where_it_came_from(tmp_path, rules):
    path = write_jsonl(tmp_path / "two.jsonl", INTERLEAVED)
    steps = [i for i in replay([path], rules) if isinstance(i, Step)]
    assert [s.where for s in steps] == [f"{path}:{n}" for n in range(1, len(INTERLEAVED) + 1)]


def test_a_bad_json_line_is_a_problem_and_the_replay_goes_on(tmp_path, rules):
    lines: list[object] = [*INTERLEAVED[:3], '{"type": "utterance", "call_id": "a",', *INTERLEAVED[3:]]
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    items = list(replay([path], rules))
    (problem,) = [i for i in items if isinstance(i, Problem)]
    assert problem.where == f"{path}:4"
    assert "expected a JSON object, got invalid JSON" in problem.message
    assert sum(1 for i in items if isinstance(i, Step)) == len(INTERLEAVED)


def test_an_event_with_a_wrong_field_is_a_problem_naming_line_and_field(tmp_path, rules):
    bad = {**utterance("a", "agent", "hi", 2000), "start_ms": "soon"}
    path = write_jsonl(tmp_path / "bad.jsonl", [*INTERLEAVED[:3], bad, *INTERLEAVED[3:]])
    (problem,) = [i for i in replay([path], rules) if isinstance(i, Problem)]
    assert str(problem).startswith(f"{path}:4: field 'start_ms'")


def test_a_call_without_call_end_is_closed_with_a_summary(tmp_path, rules):
    path = write_jsonl(tmp_path / "open.jsonl", INTERLEAVED[:6])
    items = list(replay([path], rules))
    problems = [i.message for i in items if isinstance(i, Problem)]
    assert problems == ["call 'a' had no call.end; closed at the end of the file",
                        "call 'b' had no call.end; closed at the end of the file"]
    assert [o.call_id for i in items if isinstance(i, Step) for o in i.outputs if o.kind == "summary"] == ["a", "b"]


def test_cli_prints_the_problem_replays_the_rest_and_exits_1(tmp_path, capsys):
    lines: list[object] = [*INTERLEAVED[:3], "not json at all", *INTERLEAVED[3:]]
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    assert main(["replay", str(path), "--json"]) == 1
    out, err = capsys.readouterr()
    assert f"error: {path}:4: expected a JSON object" in err
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert kinds.count("summary") == 2


def test_strict_stops_at_the_first_problem(tmp_path, capsys):
    lines: list[object] = [*INTERLEAVED[:3], "not json", *INTERLEAVED[3:5], "{broken", *INTERLEAVED[5:]]
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    assert main(["replay", str(path), "--json", "--strict"]) == 1
    out, err = capsys.readouterr()
    assert f"{path}:4" in err
    assert f"{path}:7" not in err
    assert "--strict" in err
    assert "summary" not in out
    assert "acknowledge-before-apology" not in out  # nothing after line 4 was replayed


def test_lang_option_fills_in_a_call_start_without_lang(tmp_path, capsys):
    events = [{k: v for k, v in e.items() if k != "lang"} for e in INTERLEAVED]
    path = write_jsonl(tmp_path / "nolang.jsonl", events)
    assert main(["replay", str(path), "--json", "--lang", "zh"]) == 0
    says = [json.loads(line)["say"] for line in capsys.readouterr().out.splitlines()
            if json.loads(line)["kind"] == "prompt" and json.loads(line)["rule"] == "acknowledge-before-apology"]
    assert says and all(s.startswith("先认可情绪") for s in says)
