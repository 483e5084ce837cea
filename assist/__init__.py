"""assist: rule-based real-time call assist.

    from assist import Engine, load_rules
    engine = Engine(load_rules("rules"))
    outputs = engine.feed({"type": "call.start", "call_id": "c1", "lang": "en", "t_ms": 0})
"""

from __future__ import annotations

from pathlib import Path

from assist.bundle import DEFAULT_RULES
from assist.core.compiled import CompiledRules
from assist.core.engine import Engine
from assist.core.events import CallEnd, CallStart, CallTransfer, Tick, Utterance, parse_event
from assist.core.outputs import (
    CallView,
    CallWarning,
    Classification,
    EngineFault,
    Evidence,
    Expired,
    Fed,
    Output,
    Prompt,
    Resolved,
    Summary,
    Transferred,
)
from assist.errors import AssistError, CapacityError, EventError, FormatError, RulePackError
from assist.rulepack.compile import compile_packs
from assist.rulepack.load import load_packs

__all__ = [
    "AssistError",
    "CallEnd",
    "CallStart",
    "CallTransfer",
    "CallView",
    "CallWarning",
    "CapacityError",
    "Classification",
    "CompiledRules",
    "Engine",
    "EngineFault",
    "EventError",
    "Evidence",
    "Expired",
    "Fed",
    "FormatError",
    "Output",
    "Prompt",
    "Resolved",
    "RulePackError",
    "Summary",
    "Tick",
    "Transferred",
    "Utterance",
    "load_rules",
    "parse_event",
]

def load_rules(path: str | Path = DEFAULT_RULES) -> CompiledRules:
    """Load, check and compile every rule pack under `path`; raise RulePackError listing each problem."""
    return compile_packs(load_packs(Path(path)))
