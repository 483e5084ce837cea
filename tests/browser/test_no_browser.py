"""A machine without Chromium must fail the browser tests loudly, not skip them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ONE_TEST = "tests/browser/test_sidebar.py::test_without_token_it_says_so"


def run_one(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ASSIST_CHROMIUM", "ASSIST_SKIP_BROWSER")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", ONE_TEST],
                          cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_missing_chromium_fails_with_a_clear_message() -> None:
    result = run_one(ASSIST_CHROMIUM="/nonexistent/chromium")
    assert result.returncode != 0, result.stdout
    assert "Chromium not found at /nonexistent/chromium" in result.stdout
    assert "ASSIST_SKIP_BROWSER=1" in result.stdout


def test_skip_only_when_asked() -> None:
    result = run_one(ASSIST_CHROMIUM="/nonexistent/chromium", ASSIST_SKIP_BROWSER="1")
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
