"""assist: rule-based real-time call assist.

    from assist import Engine, load_rules
    engine = Engine(load_rules("rules"))
    outputs = engine.feed({"type": "call.start", "call_id": "c1", "lang": "en", "t_ms": 0})
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assist.bundle import DEFAULT_RULES
from assist.errors import AssistError, CapacityError, EventError, FormatError, RulePackError

if TYPE_CHECKING:
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

# The engine and its types are imported on first use, so `import assist` (and `assist --help`) does
# not load durable_rules, OpenCC and pydantic's models until something needs them.
_HOMES = {
    "CompiledRules": "assist.core.compiled",
    "Engine": "assist.core.engine",
    **dict.fromkeys(("CallEnd", "CallStart", "CallTransfer", "Tick", "Utterance", "parse_event"), "assist.core.events"),
    **dict.fromkeys(("CallView", "CallWarning", "Classification", "EngineFault", "Evidence", "Expired", "Fed",
                     "Output", "Prompt", "Resolved", "Summary", "Transferred"), "assist.core.outputs"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'assist' has no attribute '{name}'")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


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
    from assist.rulepack.compile import compile_packs
    from assist.rulepack.load import load_packs

    return compile_packs(load_packs(Path(path)))
