"""Progress of a many-file replay or report: drawn on stderr when it is a terminal, absent when piped."""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from assist.bundle import EXAMPLES


@pytest.fixture
def report(tmp_path: Path) -> list[str]:
    """`assist report` of a directory of the example calls."""
    for path in EXAMPLES.glob("*.txt"):
        shutil.copy(path, tmp_path)
    return [sys.executable, "-m", "assist", "report", str(tmp_path)]


def test_report_of_a_directory_draws_progress_on_a_terminal_stderr(report: list[str]) -> None:
    main, sub = os.openpty()
    fcntl.ioctl(sub, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    with subprocess.Popen(report, stdout=subprocess.PIPE, stderr=sub) as proc:
        os.close(sub)  # the child holds the terminal's only other end now
        drawn = b""
        while chunk := _read(main):  # read while it runs: a closed pty may drop what nobody read
            drawn += chunk
        os.close(main)
        stdout = proc.stdout.read() if proc.stdout else b""
        assert proc.wait(timeout=120) == 0
    assert b"calls:" in drawn and b"file" in drawn  # "calls: 50%|█████     | 4/8 [00:00<…, file/s]"
    assert b"calls:" not in stdout and b"call(s)" in stdout  # the report itself is on stdout, clean


def test_report_piped_prints_no_progress(report: list[str]) -> None:
    done = subprocess.run(report, capture_output=True, timeout=120)
    assert done.returncode == 0
    assert done.stderr == b""


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other end is closed and everything was read
        return b""
