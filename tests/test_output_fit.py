"""Output that fits a terminal and a spreadsheet: the report within 100 columns or as CSV, evidence cut at a
word with an ellipsis, one kind of quotes in a why line, only known --format names, defaults in --help."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from assist.bundle import EXAMPLES
from assist.cli import main
from assist.core.normalize import snippet
from assist.core.outputs import Evidence, Prompt, Resolved
from assist.report import CSV_COLUMNS, aggregate, table

LONG_RULE = "escalate-to-a-supervisor-when-the-customer-asks-twice"


def _outputs() -> list[Prompt | Resolved]:
    by = Evidence("agent", "ok", 9000)
    return [Prompt(call_id="c1", t_ms=1000, id="c1:1", rule=LONG_RULE, severity="urgent", say="s", why="w",
                   evidence=()),
            Resolved(call_id="c1", t_ms=9000, id="c1:1", rule=LONG_RULE, by=by)]


def test_report_fits_100_columns_with_long_rule_ids_and_every_example(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for line in table(aggregate(_outputs())).splitlines():
        assert len(line) <= 100, line
    assert "escalate-to-a-supervisor-when…" in table(aggregate(_outputs()))
    for path in EXAMPLES.glob("*.*"):
        if path.suffix in {".txt", ".jsonl"}:
            shutil.copy(path, tmp_path)
    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "agents' feedback from the sidebar:" in out  # feedback_en.jsonl has votes


def test_report_csv_has_a_row_per_rule_with_plain_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--csv", str(EXAMPLES / "angry_refund_en.txt"),
                 str(EXAMPLES / "feedback_en.jsonl")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and tuple(rows[0]) == CSV_COLUMNS
    for row in rows:
        assert int(row["raised"]) >= int(row["resolved"])
        assert row["resolved_rate"] == "" or 0 <= float(row["resolved_rate"]) <= 1
        assert row["median_resolve_s"] == "" or float(row["median_resolve_s"]) >= 0
    assert any(int(row["helpful"]) + int(row["not_helpful"]) for row in rows)


def test_report_json_and_csv_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--csv", "--json", str(EXAMPLES / "angry_refund_en.txt")])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "cut"), [
    ("Hi, I'm calling about order 58213. This is ridiculous", "Hi, I'm calling about order 58213. This is…"),
    ("short enough", "short enough"),
    ("我要投訴你們酒店！半夜十二點打電話問我訂的房間還要不要，我的客人早就入住了",
     "我要投訴你們酒店！半夜十二點打電話問我訂的…"),
])
def test_snippets_end_at_a_word_with_an_ellipsis(text: str, cut: str) -> None:
    assert snippet(text, 22 if text.startswith("我") else 45) == cut


def test_timeline_evidence_is_cut_at_a_word(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(EXAMPLES / "demo_en.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "because: Hi, I'm calling about order 58213. This is…" in out
    assert "ridicul\n" not in out


def test_chinese_why_lines_use_one_kind_of_quotes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(EXAMPLES / "impatient_delivery_zh.txt")]) == 0
    whys = [line for line in capsys.readouterr().out.splitlines() if "why:" in line]
    assert any("“快点”、“我赶时间”" in line for line in whys)
    assert not [line for line in whys if '"' in line]


def test_format_takes_only_known_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["replay", "--format", "vtt", str(EXAMPLES / "angry_refund_en.txt")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'vtt'" in err and "'webvtt'" in err


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    assert "(default: 1000)" in out and "(default: False)" not in out and "(default: None)" not in out
    with pytest.raises(SystemExit):
        main(["rules", "lint", "--help"])
    assert "per language (default: 5)" in " ".join(capsys.readouterr().out.split())
