"""Every setting from the environment (ASSIST_…, nested with __), the config file and flags, in that order of
strength from the bottom: file < environment < flags; validated whichever of them set it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assist.core.engine import DEFAULT_MAX_CALLS, Engine
from assist.server.config import ConfigError, Limits, ServerConfig, load_config


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "assist.yaml"
    path.write_text("port: 9000\nidle_timeout_s: 60\nlimits: {max_calls: 50, queue_size: 64}\n"
                    "log: {path: from-file.db}\n")
    return path


def test_every_field_comes_from_the_environment_nested_with_double_underscores(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_HOST", "0.0.0.0")
    monkeypatch.setenv("ASSIST_LIMITS__MAX_CALLS", "500")
    monkeypatch.setenv("ASSIST_LOG__SYNC", "full")
    monkeypatch.setenv("ASSIST_TOKENS__AGENTS", '{"a7": "tok-a7"}')
    monkeypatch.setenv("ASSIST_ALLOWED_ORIGINS", '["https://crm.example"]')
    config = load_config()
    assert config.host == "0.0.0.0" and config.limits.max_calls == 500 and config.log.sync == "full"
    assert config.tokens.agents == {"a7": "tok-a7"} and config.allowed_origins == ["https://crm.example"]
    assert config.limits.queue_size == Limits().queue_size  # the rest of the group keeps its defaults


def test_file_then_environment_then_flags(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_PORT", "9100")
    monkeypatch.setenv("ASSIST_LIMITS__MAX_CALLS", "70")
    config = load_config(config_file, port=9200, log={"sync": "full", "path": None})
    assert config.port == 9200                                  # flag over environment over file
    assert config.limits.max_calls == 70 and config.limits.queue_size == 64  # environment over file, per field
    assert config.idle_timeout_s == 60                          # file over default
    assert config.log.path == "from-file.db" and config.log.sync == "full"  # a flag not given changes nothing


def test_a_bad_value_from_any_source_names_the_field_and_its_variable(
        config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"log\.retention_days \(ASSIST_LOG__RETENTION_DAYS\): .*greater than 0"):
        load_config(config_file, log={"retention_days": -5})
    monkeypatch.setenv("ASSIST_LIMITS__MAX_CALLS", "0")
    with pytest.raises(ConfigError, match=r"limits\.max_calls \(ASSIST_LIMITS__MAX_CALLS\)"):
        load_config(config_file)
    monkeypatch.setenv("ASSIST_LIMITS__MAX_CALLS", "10")
    monkeypatch.setenv("ASSIST_LIMITS__MAX_CALL", "10")  # a typo is refused, not silently ignored
    with pytest.raises(ConfigError, match=r"limits\.max_call"):
        load_config(config_file)


def test_a_change_after_loading_is_validated_too() -> None:
    config = ServerConfig()
    with pytest.raises(ValueError, match="greater than 0"):
        config.log.retention_days = -5
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        config.limits.max_calls = 0


def test_serve_refuses_a_negative_retention_flag(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "assist", "serve", "--port", "0", "--retention-days", "-5",
                           "--log", str(tmp_path / "calls.db")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "log.retention_days (ASSIST_LOG__RETENTION_DAYS): Input should be greater than 0" in done.stderr
    assert not (tmp_path / "calls.db").exists()  # refused before anything was opened


def test_max_calls_has_one_default() -> None:
    assert Limits().max_calls == DEFAULT_MAX_CALLS
    assert Engine.__init__.__kwdefaults__["max_calls"] == DEFAULT_MAX_CALLS
