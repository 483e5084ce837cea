"""Choosing a format: detection from the first lines, --format forcing one, and the errors."""

from __future__ import annotations

import pytest

from assist import DEFAULT_RULES, FormatError
from assist.cli import main
from assist.formats import ReadOptions, read_file

EXAMPLES = DEFAULT_RULES.parent / "examples"


@pytest.mark.parametrize(("name", "fmt"), [("demo_en.jsonl", "jsonl"), ("demo_zh.jsonl", "jsonl"),
                                           ("angry_refund_en.txt", "text"), ("know_it_all_zh.txt", "text")])
def test_examples_are_detected(name, fmt):
    from assist.formats import detect

    path = EXAMPLES / name
    assert detect(path.read_text(encoding="utf-8")[:4096], str(path)).name == fmt


def test_a_text_transcript_with_a_json_name_is_still_read_as_text(tmp_path):
    path = tmp_path / "call.jsonl"
    path.write_text("Agent: Hello.\nCustomer: Hi.\n", encoding="utf-8")
    items = list(read_file(path, None, ReadOptions(call_id="call")))
    assert [i.event["type"] for i in items] == ["call.start", "utterance", "utterance", "call.end"]


def test_format_forces_a_parser(tmp_path):
    path = tmp_path / "call.txt"
    path.write_text("Agent: Hello.\n", encoding="utf-8")
    (item,) = read_file(path, "jsonl", ReadOptions(call_id="call"))
    assert item.where == f"{path}:1"
    assert item.problem is not None and "expected a JSON object" in item.problem


def test_unknown_format_names_the_known_ones(tmp_path):
    path = tmp_path / "call.txt"
    path.write_text("Agent: Hello.\n", encoding="utf-8")
    with pytest.raises(FormatError) as err:
        read_file(path, "docx", ReadOptions(call_id="call"))
    message = str(err.value)
    assert message.startswith("unknown format 'docx': expected one of ")
    assert "jsonl" in message and "text" in message


def test_an_undetectable_file_says_what_it_starts_with(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Meeting notes, Tuesday\nnothing here\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"cannot tell the format: .*use --format.*'Meeting notes, Tuesday'"):
        read_file(path, None, ReadOptions(call_id="notes"))


def test_invalid_utf8_is_a_format_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"Agent: caf\xe9\n")
    with pytest.raises(FormatError, match="expected UTF-8 text, got invalid bytes at offset 10"):
        read_file(path, None, ReadOptions(call_id="bad"))


def test_cli_format_option(tmp_path, capsys):
    path = tmp_path / "call.log"
    path.write_text("Customer: This is ridiculous!\nAgent: Sorry.\n", encoding="utf-8")
    assert main(["replay", str(path), "--format", "text"]) == 0
    assert "acknowledge-before-apology" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # only known names: argparse refuses before reading anything
        main(["replay", str(path), "--format", "docx"])
    assert refused.value.code == 2 and "invalid choice: 'docx'" in capsys.readouterr().err
