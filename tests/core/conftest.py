"""Fixtures for the core: the real playbook pack, compiled once, and a small call driver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from assist import CompiledRules, Engine, Fed, Summary, load_rules


@pytest.fixture(scope="session")
def rules() -> CompiledRules:
    return load_rules()


@pytest.fixture
def engine(rules: CompiledRules) -> Iterator[Engine]:
    eng = Engine(rules)
    yield eng
    eng.close()  # give the session slots back to the shared pool


class Call:
    """Drives one call through an engine with plausible event times (2 s per turn)."""

    def __init__(self, engine: Engine, call_id: str = "c1", lang: str | None = "en", t_ms: int = 0):
        self.engine = engine
        self.id = call_id
        self.t = t_ms
        start: dict[str, Any] = {"type": "call.start", "call_id": call_id, "t_ms": t_ms}
        if lang is not None:
            start["lang"] = lang
        self.started = engine.feed(start)

    def say(self, speaker: str, text: str, *, final: bool = True, at: int | None = None) -> Fed:
        end = self.t + 2000 if at is None else at
        self.t = end
        return self.engine.feed({"type": "utterance", "call_id": self.id, "speaker": speaker, "text": text,
                                 "start_ms": max(0, end - 1500), "end_ms": end, "final": final})

    def customer(self, text: str, **kw: Any) -> Fed:
        return self.say("customer", text, **kw)

    def agent(self, text: str, **kw: Any) -> Fed:
        return self.say("agent", text, **kw)

    def tick(self, t_ms: int) -> Fed:
        self.t = max(self.t, t_ms)
        return self.engine.feed({"type": "tick", "call_id": self.id, "t_ms": t_ms})

    def end(self) -> Summary:
        (summary,) = self.engine.feed({"type": "call.end", "call_id": self.id, "t_ms": self.t + 1000})
        assert isinstance(summary, Summary)
        return summary


@pytest.fixture
def call(engine: Engine) -> Call:
    """An English call 'c1' already started on a fresh engine."""
    return Call(engine)


@pytest.fixture
def new_call(engine: Engine) -> Any:
    """Start another call on the same engine: new_call('c2', lang='zh')."""
    def start(call_id: str, lang: str | None = "en") -> Call:
        return Call(engine, call_id, lang)
    return start
