"""What the engine emits: prompts, resolutions, classifications, summaries (the --json contract)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["info", "warn", "urgent"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warn": 1, "urgent": 2}


@dataclass(frozen=True, slots=True)
class Evidence:
    speaker: str
    text: str
    t_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "text": self.text, "t_ms": self.t_ms}


@dataclass(frozen=True, slots=True)
class Prompt:
    call_id: str
    t_ms: int
    id: str
    rule: str
    severity: Severity
    say: str
    why: str
    evidence: tuple[Evidence, ...]
    supervisor: bool = False
    kind: Literal["prompt"] = "prompt"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind, "call_id": self.call_id, "t_ms": self.t_ms, "id": self.id,
            "rule": self.rule, "severity": self.severity, "say": self.say, "why": self.why,
            "evidence": [e.to_dict() for e in self.evidence],
        }
        if self.supervisor:
            out["supervisor"] = True
        return out


@dataclass(frozen=True, slots=True)
class Resolved:
    call_id: str
    t_ms: int
    id: str
    rule: str
    by: Evidence
    kind: Literal["resolved"] = "resolved"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "call_id": self.call_id, "t_ms": self.t_ms, "id": self.id,
                "rule": self.rule, "by": self.by.to_dict()}


@dataclass(frozen=True, slots=True)
class Expired:
    """An open prompt left the sidebar without being done: its time ran out or more urgent ones came."""

    call_id: str
    t_ms: int
    id: str
    rule: str
    reason: Literal["timeout", "superseded"]
    kind: Literal["expired"] = "expired"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "call_id": self.call_id, "t_ms": self.t_ms, "id": self.id,
                "rule": self.rule, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Classification:
    call_id: str
    t_ms: int
    types: dict[str, float]
    top: str | None
    evidence: tuple[Evidence, ...]
    kind: Literal["classification"] = "classification"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "call_id": self.call_id, "t_ms": self.t_ms, "types": self.types,
                "top": self.top, "evidence": [e.to_dict() for e in self.evidence]}


@dataclass(frozen=True, slots=True)
class Summary:
    call_id: str
    t_ms: int
    types: dict[str, float]
    top: str | None
    prompts: dict[str, int]
    resolved: dict[str, int]
    checklist: dict[str, bool | None]
    utterances: int
    feedback: dict[str, dict[str, int]]  # rule → action → count
    kind: Literal["summary"] = "summary"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "call_id": self.call_id, "t_ms": self.t_ms, "types": self.types,
                "top": self.top, "prompts": self.prompts, "resolved": self.resolved,
                "checklist": self.checklist, "utterances": self.utterances, "feedback": self.feedback}


@dataclass(frozen=True, slots=True)
class EngineFault:
    """A rule action failed inside the engine; the call goes on, the fault is reported, not swallowed."""

    call_id: str
    t_ms: int
    rule: str
    error: str
    kind: Literal["error"] = "error"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "call_id": self.call_id, "t_ms": self.t_ms, "rule": self.rule,
                "error": self.error}


@dataclass(frozen=True, slots=True)
class CallWarning:
    """Something about the call that makes the engine see less than it should; sent once per call.

    `code` 'unsupported_language': the call's language has no lexicon or prompts in the rule packs,
    so its customer cues go unheard (prompts that do fire come in the pack's first language)."""

    call_id: str
    t_ms: int
    code: str
    lang: str
    message: str
    kind: Literal["warning"] = "warning"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "call_id": self.call_id, "t_ms": self.t_ms, "code": self.code,
                "lang": self.lang, "message": self.message}


@dataclass(frozen=True, slots=True)
class Transferred:
    """The call moved to agent `agent_id` (from `from_agent_id`, None when it had none yet)."""

    call_id: str
    t_ms: int
    agent_id: str
    from_agent_id: str | None
    kind: Literal["transfer"] = "transfer"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "call_id": self.call_id, "t_ms": self.t_ms, "agent_id": self.agent_id,
                "from_agent_id": self.from_agent_id}


Output = Prompt | Resolved | Expired | Classification | Summary | EngineFault | CallWarning | Transferred


@dataclass(frozen=True, slots=True)
class CallView:
    """A call as a sidebar draws it, after an event: read-only, built by the engine, never edited.

    `open` is False once the call has ended (the view then is its last). `t_ms` is the event time the
    call has reached (ticks included); `types` are the rounded customer-type scores, best first;
    `prompts` are the prompts on screen now, oldest first; `classification` is the latest one raised.
    `due_ms` is the earliest event time at which time alone changes the call (an open prompt expires,
    a silence threshold is crossed), None when nothing waits on the clock: a tick before it changes
    nothing, so a live server need not send one.
    """

    call_id: str
    agent_id: str | None
    lang: str | None
    open: bool
    t_ms: int
    top: str | None
    types: dict[str, float]
    classification: Classification | None
    prompts: tuple[Prompt, ...]
    due_ms: int | None = None


class Fed(list[Output]):
    """What one event caused, in order (a list of outputs, as ``Engine.feed`` has always returned),
    and `call`: the view of that call after the event, so a caller never asks the engine again."""

    __slots__ = ("call",)

    def __init__(self, outputs: list[Output], call: CallView):
        super().__init__(outputs)
        self.call = call

