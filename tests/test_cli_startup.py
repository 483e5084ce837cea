"""`assist --help` (and building the parser for any command) loads none of the engine's heavy parts:
durable_rules, OpenCC and the rule-pack models load only for the command that needs them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("durable", "opencc", "assist.core.engine", "assist.rulepack", "assist.server.app", "pydantic_settings")


def test_help_loads_no_engine_rules_or_server() -> None:
    code = ("import json, sys; from assist.cli import build_parser; build_parser().format_help(); "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = [m for m in json.loads(out.stdout) if m.startswith(HEAVY)]
    assert loaded == []


def test_the_library_still_offers_its_api_at_the_top() -> None:
    code = "import assist; print(assist.Engine.__module__, assist.Prompt.__name__, assist.load_rules.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["assist.core.engine", "Prompt", "load_rules"]
