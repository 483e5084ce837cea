"""The package as a user gets it: a wheel built from this tree, installed in a fresh venv, run from an empty
directory (no rules/ or examples/ beside it): the bundled playbook and demo call must come with it."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding only the wheel and its dependencies (pinned by the lock file if any)."""
    tmp = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)], check=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("assist-*.whl")
    venv.create(tmp / "venv", with_pip=False)  # pip below installs into it from outside (--python)
    pins = ["-c", str(LOCK)] if LOCK.exists() else []
    subprocess.run([*pip, "--python", str(tmp / "venv" / "bin" / "python"), "install", str(wheel), *pins],
                   check=True, timeout=300)
    return tmp / "venv" / "bin"


def run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run([str(bin_dir / "assist"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_installed_wheel_lints_its_bundled_playbook(installed: Path, tmp_path: Path) -> None:
    done = run(installed, tmp_path, "rules", "lint")
    assert done.returncode == 0, done.stderr
    assert "0 problem(s)" in done.stdout and "site-packages" not in done.stderr


def test_installed_wheel_replays_a_call_from_an_empty_directory(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "call.txt").write_text("AGENT: Thanks for calling, how can I help?\n"
                                       "CUSTOMER: This is ridiculous, I want my money back!\n"
                                       "AGENT: I'm sorry about that.\n", encoding="utf-8")
    done = run(installed, tmp_path, "replay", "call.txt")
    assert done.returncode == 0, done.stderr
    assert "━━ call call" in done.stdout and "acknowledge-before-apology" in done.stdout


def test_installed_wheel_runs_the_bundled_demo_call_once(installed: Path, tmp_path: Path) -> None:
    done = run(installed, tmp_path, "demo", "--once", "--port", "0", "--speed", "1000")
    assert done.returncode == 0, done.stderr
    assert "streaming demo_en.jsonl" in done.stdout
    assert "prompt(s) raised" in done.stdout and " 0 prompt(s)" not in done.stdout


def test_installed_wheel_says_its_version_as_a_command_and_a_module(installed: Path, tmp_path: Path) -> None:
    assert run(installed, tmp_path, "--version").stdout.strip() == "assist 0.1.0"
    module = subprocess.run([str(installed / "python"), "-m", "assist", "--version"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert module.stdout.strip() == "assist 0.1.0", module.stderr
