"""`assist replay`: the timeline a person reads and the --json contract a program reads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assist import DEFAULT_RULES
from assist.cli import main

EXAMPLES = DEFAULT_RULES.parent / "examples"
DEMO_EN = str(EXAMPLES / "demo_en.jsonl")
CONTRACT = {
    "prompt": {"kind", "call_id", "t_ms", "id", "rule", "severity", "say", "why", "evidence"},
    "resolved": {"kind", "call_id", "t_ms", "id", "rule", "by"},
    "expired": {"kind", "call_id", "t_ms", "id", "rule", "reason"},
    "classification": {"kind", "call_id", "t_ms", "types", "top", "evidence"},
    "summary": {"kind", "call_id", "t_ms", "types", "top", "prompts", "resolved", "checklist", "utterances"},
}


@pytest.fixture(scope="module")
def demo_json() -> list[dict[str, object]]:
    capture = subprocess.run([sys.executable, "-m", "assist.cli", "replay", DEMO_EN, "--json"],
                             capture_output=True, text=True, timeout=120)
    assert capture.returncode == 0, capture.stderr
    return [json.loads(line) for line in capture.stdout.splitlines()]


def test_timeline_shows_the_call_the_turns_and_the_prompt_text(capsys):
    assert main(["replay", DEMO_EN]) == 0
    out = capsys.readouterr().out
    assert "━━ call demo-en-1 · agent a7 · en ━━" in out
    assert "CUSTOMER  Hi, I'm calling about order 58213." in out
    assert "! WARN   acknowledge-before-apology" in out
    assert 'say: Name the feeling first: "I can hear how frustrating' in out
    assert "✓ done   acknowledge-before-apology" in out
    assert "── summary demo-en-1:" in out
    assert "\x1b[" not in out  # no colour when not on a terminal


def test_json_prints_one_object_a_line_with_the_contract_fields(demo_json):
    assert demo_json, "the demo raises something"
    for obj in demo_json:
        assert {"kind", "call_id", "t_ms"} <= obj.keys()
        assert obj["call_id"] == "demo-en-1"
        assert CONTRACT[obj["kind"]] <= obj.keys(), obj["kind"]
    times = [obj["t_ms"] for obj in demo_json]
    assert times == sorted(times)


def test_json_prompt_fields(demo_json):
    prompt = next(o for o in demo_json if o["kind"] == "prompt" and o["rule"] == "acknowledge-before-apology")
    assert prompt["severity"] == "warn"
    assert prompt["say"].startswith("Name the feeling first")
    assert "sorry" in prompt["why"]
    assert prompt["evidence"][0] == {
        "speaker": "customer", "t_ms": 8190,
        "text": "Hi, I'm calling about order 58213. This is ridiculous, I've been waiting two weeks for a refund "
                "and nobody has called me back."}
    resolved = next(o for o in demo_json if o["kind"] == "resolved" and o["id"] == prompt["id"])
    assert resolved["by"]["speaker"] == "agent"


def test_json_ends_each_call_with_its_summary(demo_json):
    assert demo_json[-1]["kind"] == "summary"
    assert demo_json[-1]["checklist"]["summarized_with_time"] is True


def test_lang_changes_the_language_of_the_advice(capsys):
    assert main(["replay", DEMO_EN, "--json", "--lang", "zh"]) == 0
    prompts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    prompt = next(o for o in prompts if o.get("rule") == "acknowledge-before-apology" and o["kind"] == "prompt")
    assert prompt["say"].startswith("先认可情绪再道歉")


def test_replaying_twice_gives_identical_json(capsys):
    paths = [str(EXAMPLES / "demo_en.jsonl"), str(EXAMPLES / "demo_zh.jsonl"), str(EXAMPLES / "angry_refund_en.txt")]
    assert main(["replay", *paths, "--json"]) == 0
    first = capsys.readouterr().out
    assert main(["replay", *paths, "--json"]) == 0
    assert capsys.readouterr().out == first
    assert first.count('"kind": "summary"') == 3


def test_a_directory_replays_every_transcript_in_it(tmp_path, capsys):
    for name in ("demo_en.jsonl", "angry_refund_en.txt"):
        (tmp_path / name).write_bytes((EXAMPLES / name).read_bytes())
    (tmp_path / "README.md").write_text("not a transcript", encoding="utf-8")
    assert main(["replay", str(tmp_path), "--json"]) == 0
    summaries = [json.loads(line)["call_id"] for line in capsys.readouterr().out.splitlines()
                 if json.loads(line)["kind"] == "summary"]
    assert summaries == ["angry_refund_en", "demo-en-1"]


def test_a_missing_file_is_reported_once_and_exits_2(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "nope.jsonl: no such file or directory" in err and "every other event" not in err


def test_exit_code_of_the_command_after_a_bad_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text((EXAMPLES / "demo_en.jsonl").read_text(encoding="utf-8") + "oops\n", encoding="utf-8")
    failed = subprocess.run([sys.executable, "-m", "assist.cli", "replay", str(bad)], capture_output=True,
                            text=True, timeout=120)
    assert failed.returncode == 1
    assert f"error: {bad}:18: expected a JSON object" in failed.stderr


def test_a_call_in_a_language_without_a_lexicon_shows_a_warning_once(tmp_path, capsys):
    call = tmp_path / "appel.txt"
    call.write_text("Client: C'est inadmissible, je suis furieux !\nAgent: Je suis désolé.\n"
                    "Client: Je veux un remboursement.\n", encoding="utf-8")
    assert main(["replay", str(call), "--lang", "fr"]) == 0
    out = capsys.readouterr().out
    assert out.count("warning: no lexicon for language 'fr'") == 1
    assert main(["replay", str(call), "--lang", "fr", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (warning,) = [line for line in lines if line["kind"] == "warning"]
    assert warning == {"kind": "warning", "call_id": "appel", "t_ms": 0, "code": "unsupported_language",
                       "lang": "fr", "message": warning["message"]}
