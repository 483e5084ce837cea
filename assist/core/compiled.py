"""What the engine runs: rule packs compiled into plain tables (built by :mod:`assist.rulepack.compile`).

These types live in core, the bottom layer, so the engine never imports the rule-pack loader: the
compiler above builds them, the engine below only reads them. ``Settings`` and ``Computed`` are the
pydantic models pack.yaml validates into; the rest are frozen dataclasses, checked once at compile time.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assist.core.cues import CueMatcher


class Intensity(BaseModel):
    """How many hits of its cue one strong or weak phrase counts as when customer types are scored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strong: float = Field(default=2.0, ge=1)
    weak: float = Field(default=0.5, gt=0, le=1)


class Settings(BaseModel):
    """A pack's `settings:`; every pack of a run must agree on them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type_threshold: float = Field(default=0.6, gt=0, le=1)
    intensity: Intensity = Intensity()
    fade_after_ms: int = Field(default=60_000, ge=0)  # scores of fading types hold this long after evidence
    backchannel_words: int = Field(default=3, ge=0)
    max_open_prompts: int = Field(default=3, ge=1)


class Computed(BaseModel):
    """A cue the engine derives from the utterance instead of matching words; every bound given must hold.

    gap_ms is the pause between the other speaker's last utterance and this one (a response delay).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_words: int | None = Field(default=None, ge=1)
    max_words: int | None = Field(default=None, ge=0)
    min_gap_ms: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> Computed:
        if self.min_words is None and self.max_words is None and self.min_gap_ms is None:
            raise ValueError("expected at least one of min_words, max_words, min_gap_ms")
        return self


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    """One condition of a rule's `when:`; the rule fires when any of its conditions holds.

    :func:`assist.core.durable_adapter.ruleset_json` turns it into durable_rules' terms, which decide.
    :meth:`may_match` checks the same terms in Python before posting (each one of them is necessary, so
    durable_rules never misses a rule it rejects): it spares durable_rules the utterances no rule
    matches, and the last repost of an utterance once every rule that matches it has fired.
    """

    rule: str
    on: str                              # agent | customer | any | silence | type
    type: str | None                     # the customer type of an `on: type` rule
    all: tuple[str, ...]                 # cues that must all be heard
    any: tuple[str, ...]                 # cues of which one must be heard
    none: tuple[str, ...]                # cues that must not be heard
    state: tuple[str, ...]               # flags that must be set
    not_state: tuple[str, ...]           # flags that must not be set
    cue_mins: tuple[tuple[str, int], ...]      # cue → distinct phrases at least
    feature_mins: tuple[tuple[str, int], ...]  # feature (words, gap_ms…) → at least

    @property
    def keys(self) -> frozenset[str]:
        """The cues one of which must be heard for this condition to hold (empty: none needed)."""
        return frozenset(self.all) | frozenset(self.any) | {c for c, _ in self.cue_mins}

    def may_match(self, present: Mapping[str, int], features: Mapping[str, int], flags: Container[str]) -> bool:
        """Whether this condition holds for an utterance whose distinct phrases per cue are `present`,
        with these `features`, in a call whose state `flags` are set."""
        for cue in self.all:  # plain loops: this runs for every utterance, on tuples of one or two
            if cue not in present:
                return False
        for cue in self.none:
            if cue in present:
                return False
        for flag in self.state:
            if flag not in flags:
                return False
        for flag in self.not_state:
            if flag in flags:
                return False
        if self.any:
            for cue in self.any:
                if cue in present:
                    break
            else:
                return False
        for cue, least in self.cue_mins:
            if present.get(cue, 0) < least:
                return False
        return all(features[name] >= least for name, least in self.feature_mins)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    severity: str
    on: str
    say: dict[str, str]
    why: dict[str, str]
    resolved_by: tuple[frozenset[str], ...]
    cooldown_ms: int
    expire_ms: int | None
    supervisor: bool
    cues: frozenset[str]
    states: tuple[str, ...]
    conditions: tuple[CompiledCondition, ...]


@dataclass(frozen=True, slots=True)
class StateRule:
    set_by: dict[str, tuple[frozenset[str], ...]]
    cleared_by: dict[str, tuple[frozenset[str], ...]]


@dataclass(frozen=True)
class CompiledRules:
    digest: str
    packs: tuple[str, ...]
    languages: tuple[str, ...]
    settings: Settings
    matchers: dict[str, CueMatcher]
    computed: tuple[tuple[str, str, Computed], ...]
    states: dict[str, StateRule]
    types: dict[str, dict[str, float]]
    half_lives: dict[str, int]  # fading types → half-life of their score (ms)
    type_titles: dict[str, dict[str, str]]
    checklist: tuple[tuple[str, str, str | None], ...]
    rules: dict[str, CompiledRule]
    ruleset: dict[str, Any]
    silence_thresholds: tuple[int, ...]  # the silence_ms minimums of `on: silence` rules, ascending
    # per speaker: conditions of rules on that speaker; those a given cue can open, and those with no cue
    conditions_by_cue: dict[str, dict[str, tuple[CompiledCondition, ...]]]
    conditions_always: dict[str, tuple[CompiledCondition, ...]]
    state_index: dict[str, tuple[str, ...]]          # cue → states whose set/clear entries mention it
    type_index: dict[str, tuple[tuple[str, float], ...]]  # cue → (type, weight)


def type_flag(type_id: str) -> str:
    """The state flag set once a customer type crosses the threshold (usable in `state:`)."""
    return f"type_{type_id}"
