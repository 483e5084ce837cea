"""pydantic models of a rule pack: the manifest (pack.yaml), lexicons and rules."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assist.core.compiled import Computed, Settings
from assist.core.outputs import Severity

NAME = r"^[a-z][a-z0-9_]*$"
RULE_ID = r"^[a-z][a-z0-9_-]*$"
Speaker = Literal["agent", "customer", "any"]
# Numbers the engine computes for each utterance, usable in `min:` (see README "Timing signals").
FEATURES = ("words", "run_words", "agent_run_words", "overlap_ms", "gap_ms", "rate_wpm", "silence_ms")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CueDecl(_Strict):
    speaker: Speaker
    description: str
    negatable: bool = False
    computed: Computed | None = None


class StateDecl(_Strict):
    """A call-level flag, set and cleared by cues ('a+b' means both in one utterance)."""

    description: str
    set_by: dict[Literal["agent", "customer"], list[str]]
    cleared_by: dict[Literal["agent", "customer"], list[str]] = {}


class TypeDecl(_Strict):
    """A customer type scored from cues; with `half_life_ms` its score fades once no fresh evidence came
    for settings.fade_after_ms (a passing state such as anger, not a trait such as vulnerability)."""

    title: dict[str, str]
    cues: dict[str, float]
    half_life_ms: int | None = Field(default=None, ge=1000)

    @field_validator("cues")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for cue, w in v.items():
            if not 0 < w <= 1:
                raise ValueError(f"weight of cue '{cue}' must be in (0, 1], got {w}")
        return v


class ChecklistItem(_Strict):
    id: str = Field(pattern=NAME)
    done: str
    applies_if: str | None = None


class Manifest(_Strict):
    id: str = Field(pattern=NAME)
    version: int = Field(ge=1)
    description: str
    languages: list[str] = Field(min_length=1)
    settings: Settings = Settings()
    cues: dict[str, CueDecl]
    state: dict[str, StateDecl] = {}
    types: dict[str, TypeDecl] = {}
    checklist: list[ChecklistItem] = []

    @field_validator("cues", "state", "types")
    @classmethod
    def _names(cls, v: dict[str, object]) -> dict[str, object]:
        for name in v:
            if not re.match(NAME, name):
                raise ValueError(f"name '{name}' must match {NAME}")
        return v


class LexEntry(_Strict):
    """A cue's phrases and regexes in one language; `strong` and `weak` phrases are matched like the others
    and count for more or less when customer types are scored (settings.intensity)."""

    phrases: list[str] = []
    strong: list[str] = []
    weak: list[str] = []
    regex: list[str] = []


class Lexicon(_Strict):
    lang: str
    cues: dict[str, LexEntry]


class Condition(_Strict):
    all: list[str] = []
    any: list[str] = []
    none: list[str] = []
    state: list[str] = []
    not_state: list[str] = []
    min: dict[str, int] = {}
    type: str | None = None


class CaseStep(_Strict):
    """One step of a case: an utterance (`agent:` or `customer:` text, optionally timed with start_ms and
    end_ms, else placed after the previous one) or a stretch of silence (`silence_ms:`)."""

    agent: str | None = None
    customer: str | None = None
    silence_ms: int | None = Field(default=None, ge=1)
    start_ms: int | None = Field(default=None, ge=0)
    end_ms: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> CaseStep:
        kinds = [k for k in ("agent", "customer", "silence_ms") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"expected exactly one of 'agent', 'customer' or 'silence_ms', got {kinds or 'none'}")
        if self.silence_ms is not None and (self.start_ms is not None or self.end_ms is not None):
            raise ValueError("a silence_ms turn takes no start_ms/end_ms")
        return self

    @property
    def speaker(self) -> str | None:
        return "agent" if self.agent is not None else "customer" if self.customer is not None else None

    @property
    def text(self) -> str:
        return self.agent if self.agent is not None else self.customer or ""


class Case(_Strict):
    lang: str
    expect: Literal["fire", "quiet"]
    turns: list[CaseStep] = Field(min_length=1)
    note: str = ""


class Rule(_Strict):
    id: str = Field(pattern=RULE_ID)
    title: str
    description: str = ""
    severity: Severity
    on: Literal["agent", "customer", "any", "type", "silence"]
    when: Condition | list[Condition]
    resolved_by: list[str] = []
    cooldown_ms: int = Field(default=60_000, ge=0)
    expire_ms: int | None = Field(default=None, ge=1)
    supervisor: bool = False
    say: dict[str, str]
    why: dict[str, str]
    cases: list[Case] = []

    @property
    def conditions(self) -> list[Condition]:
        return self.when if isinstance(self.when, list) else [self.when]

    @model_validator(mode="after")
    def _type_rules_name_a_type(self) -> Rule:
        if self.on == "type" and not all(c.type for c in self.conditions):
            raise ValueError("rules with on: type need 'when.type'")
        return self
