"""What `assist replay` / `assist report` read: files named, directories at any depth; nothing found is an
error, not a report of 0 calls."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assist.bundle import EXAMPLES
from assist.cli import main


def test_report_reads_a_date_organised_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for day, name in [("2026/11/01", "angry_refund_en.txt"), ("2026/11/02", "impatient_delivery_zh.txt"),
                      ("2026/12/01", "vulnerable_elderly_en.txt")]:
        (tmp_path / day).mkdir(parents=True)
        shutil.copy(EXAMPLES / name, tmp_path / day)
    (tmp_path / ".trash").mkdir()
    shutil.copy(EXAMPLES / "know_it_all_zh.txt", tmp_path / ".trash")  # hidden: skipped
    assert main(["report", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("3 call(s)")


def test_report_of_an_empty_directory_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "2026" / "11").mkdir(parents=True)
    (tmp_path / "notes.md").write_text("not a transcript\n")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"assist: {tmp_path}: expected transcript files (" in err and "found none" in err


def test_replay_of_a_missing_file_says_so_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-call.txt"
    assert main(["replay", str(EXAMPLES / "angry_refund_en.txt"), str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"assist: {missing}: no such file or directory\n"
    assert captured.out == ""  # checked before the first event: nothing half-replayed
