"""Per-call state the engine keeps in Python (kept small: bounded evidence, no transcript).

`CallState` is the engine's own and never leaves it; callers see a call through
:class:`assist.core.outputs.CallView`.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from assist.core.cues import CueHit
from assist.core.outputs import Classification, Evidence, Prompt

EVIDENCE_PER_TYPE = 3


@dataclass(frozen=True, slots=True)
class Moment:
    """What the rules are looking at: a final utterance, or a silence (then evidence is the last speech)."""

    t_ms: int
    evidence: Evidence
    hits: list[CueHit]
    present: dict[str, int]  # cue → number of distinct phrases heard for it
    words: int
    said: str = ""  # the utterance's text normalised (empty for a silence)


@dataclass(slots=True)
class CallState:
    call_id: str
    agent_id: str | None
    lang: str | None            # language of prompts: 'en', 'zh', 'zh-Hant', 'bg'; None until known
    lang_fixed: bool            # set by call.start or an override; detection never changes it
    started_ms: int
    last_ms: int
    flags: dict[str, Evidence] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # flags ever set (for the checklist)
    scores: dict[str, float] = field(default_factory=dict)  # type → score as of its last evidence
    scored_ms: dict[str, int] = field(default_factory=dict)  # type → time of its last evidence
    type_evidence: dict[str, deque[Evidence]] = field(default_factory=dict)
    tipped: set[str] = field(default_factory=set)
    types: dict[str, float] = field(default_factory=dict)  # scores rounded, best first (what outputs show)
    steady_until: int | None = None  # types and top stand until then unless a cue raises a score (None: fading)
    top: str | None = None
    classification: Classification | None = None  # the latest raised
    open: dict[str, Prompt] = field(default_factory=dict)  # rule id → its prompt on screen (the one home)
    last_fired: dict[str, int] = field(default_factory=dict)
    prompts: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)
    customer_spoke: bool = False     # no prompt is raised before the customer first speaks
    run_words: int = 0
    agent_run_words: int = 0         # agent words since the customer last spoke
    utterances: int = 0
    next_prompt: int = 0
    last_end_ms: int | None = None   # end of the latest speech, partial results included
    last_evidence: Evidence | None = None
    ends: dict[str, int] = field(default_factory=dict)    # speaker → end of their latest utterance
    starts: dict[str, int] = field(default_factory=dict)  # speaker → start of their latest utterance
    silence_done: set[int] = field(default_factory=set)   # silence thresholds already passed in this gap
    prompt_rules: dict[str, str] = field(default_factory=dict)  # prompt id → rule (for feedback)
    feedback: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, action) → n
    ratings: dict[str, str] = field(default_factory=dict)  # prompt id → its last rating (the one that counts)
    lang_warned: bool = False        # the call's language has no lexicon and the warning went out

    def type_evidence_for(self, type_id: str) -> deque[Evidence]:
        ev = self.type_evidence.get(type_id)
        if ev is None:
            ev = self.type_evidence[type_id] = deque(maxlen=EVIDENCE_PER_TYPE)
        return ev
