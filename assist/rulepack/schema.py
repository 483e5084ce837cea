"""pydantic models of a rule pack: the manifest (pack.yaml), lexicons and rules."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[a-z][a-z0-9_]*$"
RULE_ID = r"^[a-z][a-z0-9_-]*$"
Speaker = Literal["agent", "customer", "any"]
Severity = Literal["info", "warn", "urgent"]
FEATURES = ("words", "run_words")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Computed(_Strict):
    """A cue the engine derives from the utterance instead of matching words."""

    min_words: int = Field(ge=1)


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
    title: dict[str, str]
    cues: dict[str, float]

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


class Settings(_Strict):
    type_threshold: float = Field(default=0.6, gt=0, le=1)
    backchannel_words: int = Field(default=3, ge=0)
    max_open_prompts: int = Field(default=3, ge=1)


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
    phrases: list[str] = []
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


class Case(_Strict):
    lang: str
    expect: Literal["fire", "quiet"]
    turns: list[dict[Literal["agent", "customer"], str]] = Field(min_length=1)
    note: str = ""

    @field_validator("turns")
    @classmethod
    def _one_speaker_per_turn(
        cls, v: list[dict[Literal["agent", "customer"], str]]
    ) -> list[dict[Literal["agent", "customer"], str]]:
        for i, turn in enumerate(v):
            if len(turn) != 1:
                raise ValueError(f"turn {i + 1}: expected exactly one of 'agent' or 'customer'")
        return v


class Rule(_Strict):
    id: str = Field(pattern=RULE_ID)
    title: str
    description: str = ""
    severity: Severity
    on: Literal["agent", "customer", "any", "type"]
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
