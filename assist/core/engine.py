"""The engine: typed events in, outputs out, per call, time taken only from the events.

``Engine(rules).feed(event)`` is the whole API; replay, tests and the live server all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from typing import Any

from assist.core import scores
from assist.core.call import CallState, Moment
from assist.core.compiled import CompiledRule, CompiledRules, type_flag
from assist.core.cues import CueHit
from assist.core.durable_adapter import DurableRules, encode_facts
from assist.core.events import AnyEvent, CallEnd, CallStart, CallTransfer, Feedback, Tick, Utterance, parse_event
from assist.core.normalize import TRADITIONAL_LANGS, base_lang, detect_lang, normalize, snippet, word_count
from assist.core.outputs import (
    SEVERITY_RANK,
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
from assist.core.prompts import compose
from assist.errors import EventError, UnknownCall

_MIN_RATE_MS = 1500  # shorter utterances give no meaningful speech rate
DEFAULT_MAX_CALLS = 2500  # open calls per engine; the server's limits.max_calls defaults to this


def _within(low: int | None, value: int, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _prompt_lang(lang: str | None) -> str | None:
    if lang is None:
        return None
    if lang.lower() in TRADITIONAL_LANGS:
        return "zh-Hant"
    return base_lang(lang)


class Engine:
    """Runs compiled rule packs over many concurrent calls.

    `lang` overrides every call's language (as ``replay --lang`` does); `max_calls` bounds open calls.
    `prefilter=False` posts every utterance to the rules, even those no rule could match; outputs are
    the same either way (a test holds it to that), only slower. `on_post(call_id, facts)`, if given,
    sees every set of facts as it is posted to the rules (the benchmark's durable_rules baseline
    replays them); it must not change them.
    """

    def __init__(self, rules: CompiledRules, *, max_calls: int = DEFAULT_MAX_CALLS, lang: str | None = None,
                 prefilter: bool = True, on_post: Callable[[str, Mapping[str, Any]], None] | None = None):
        self.rules = rules
        self._on_post = on_post
        self._lang_override = lang
        self._prefilter = prefilter
        self._calls: dict[str, CallState] = {}
        self._runner = DurableRules(
            f"{'+'.join(rules.packs)}@{rules.digest}", rules.ruleset, list(rules.rules), max_calls,
        )
        self._threshold = rules.settings.type_threshold

    # -- public API -------------------------------------------------------------------------------
    @property
    def open_calls(self) -> list[str]:
        return list(self._calls)

    def view(self, call_id: str) -> CallView | None:
        """The call as a sidebar draws it now, or None if it is not open."""
        state = self._calls.get(call_id)
        return None if state is None else self._view(state)

    def feed(self, event: AnyEvent | dict[str, Any]) -> Fed:
        """Apply one event; return what it caused (a list of outputs) with the call's view after it
        (`.call`). Raises EventError for events that do not fit, CapacityError when no call fits."""
        ev = parse_event(event) if isinstance(event, dict) else event
        if isinstance(ev, CallStart):
            return self._start(ev)
        state = self._calls.get(ev.call_id)
        if state is None:
            raise UnknownCall(f"unknown call '{ev.call_id}': expected a call.start for it first (or the "
                             "call already ended)", field="call_id", expected="an open call",
                             got=ev.call_id)
        if isinstance(ev, CallEnd):
            outputs = self._end(state, ev.t_ms)
        elif isinstance(ev, Tick):
            outputs = self._tick(state, ev.t_ms)
        elif isinstance(ev, Feedback):
            outputs = self._feedback(state, ev)
        elif isinstance(ev, CallTransfer):
            outputs = [Transferred(call_id=state.call_id, t_ms=ev.t_ms, agent_id=ev.agent_id,
                                   from_agent_id=state.agent_id)]
            state.agent_id = ev.agent_id  # prompts, type and checklist go on: the customer is the same
        else:
            outputs = self._utterance(state, ev)
        return Fed(outputs, self._view(state))

    def end_call(self, call_id: str, t_ms: int) -> list[Output]:
        """Close a call without a call.end event (abandoned stream); returns its summary."""
        state = self._calls.get(call_id)
        return [] if state is None else self._end(state, t_ms)

    def close(self) -> None:
        """Release every open call's engine state without summaries."""
        self._runner.close_all()
        self._calls.clear()

    def _view(self, state: CallState) -> CallView:
        return CallView(
            call_id=state.call_id, agent_id=state.agent_id, lang=state.lang,
            open=self._calls.get(state.call_id) is state, t_ms=state.last_ms, top=state.top, types=state.types,
            classification=state.classification, prompts=tuple(state.open.values()), due_ms=self._due(state),
        )

    def _due(self, state: CallState) -> int | None:
        """The earliest event time at which a tick would change this call: what `_tick` acts on."""
        rules = self.rules.rules
        due = [prompt.t_ms + expire for rule_id, prompt in state.open.items()
               if (expire := rules[rule_id].expire_ms) is not None]
        if state.last_end_ms is not None and state.last_evidence is not None:
            due += [state.last_end_ms + threshold for threshold in self.rules.silence_thresholds
                    if threshold not in state.silence_done]
        return min(due, default=None)

    # -- call lifecycle ---------------------------------------------------------------------------
    def _start(self, ev: CallStart) -> Fed:
        if ev.call_id in self._calls:
            raise EventError(f"call '{ev.call_id}' is already open: expected one call.start per call",
                             field="call_id", expected="a new call id", got=ev.call_id)
        self._runner.open(ev.call_id)
        lang = self._lang_override or ev.lang
        state = self._calls[ev.call_id] = CallState(
            call_id=ev.call_id, agent_id=ev.agent_id, lang=_prompt_lang(lang), lang_fixed=lang is not None,
            started_ms=ev.t_ms, last_ms=ev.t_ms,
        )
        return Fed(self._check_lang(state, lang, ev.t_ms), self._view(state))

    def _check_lang(self, state: CallState, lang: str | None, t_ms: int) -> list[Output]:
        """A warning, once per call, when the call's language is one no pack has a lexicon for."""
        base = base_lang(lang)
        if base is None or base in self.rules.languages or state.lang_warned:
            return []
        state.lang_warned = True
        known = ", ".join(self.rules.languages)
        return [CallWarning(
            call_id=state.call_id, t_ms=t_ms, code="unsupported_language", lang=str(lang),
            message=f"no lexicon for language '{lang}' (the rule packs cover {known}): the customer's words "
                    f"are not understood on this call, and prompts that do fire come in {self.rules.languages[0]}",
        )]

    def _end(self, state: CallState, t_ms: int) -> list[Output]:
        self._runner.close(state.call_id)
        del self._calls[state.call_id]
        feedback: dict[str, dict[str, int]] = {}
        for (rule, action), n in sorted(state.feedback.items()):
            feedback.setdefault(rule, {})[action] = n
        checklist: dict[str, bool | None] = {}
        for item, done, applies_if in self.rules.checklist:
            applies = applies_if is None or applies_if in state.seen
            checklist[item] = (done in state.seen) if applies else None
        end = max(t_ms, state.last_ms)
        return [Summary(
            call_id=state.call_id, t_ms=end, types=scores.all_at(self.rules, state, end),
            top=scores.top_at(self.rules, state, end), prompts=dict(sorted(state.prompts.items())),
            resolved=dict(sorted(state.resolved.items())), checklist=checklist, utterances=state.utterances,
            feedback=feedback,
        )]

    def _tick(self, state: CallState, t_ms: int) -> list[Output]:
        state.last_ms = max(state.last_ms, t_ms)
        return self._expire(state, t_ms) + self._silence(state, t_ms)

    def _feedback(self, state: CallState, fb: Feedback) -> list[Output]:
        rule = state.prompt_rules.get(fb.prompt_id)
        if rule is None:
            raise EventError(f"unknown prompt '{fb.prompt_id}' in call '{state.call_id}': expected the id of a "
                             "prompt raised in this call", field="prompt_id", expected="a prompt id", got=fb.prompt_id)
        if fb.action in ("helpful", "not_helpful"):  # one rating per prompt: the last one wins
            before = state.ratings.get(fb.prompt_id)
            if before == fb.action:
                return []
            if before is not None:
                state.feedback[(rule, before)] -= 1
                if not state.feedback[(rule, before)]:
                    del state.feedback[(rule, before)]
            state.ratings[fb.prompt_id] = fb.action
        state.feedback[(rule, fb.action)] += 1
        open_prompt = state.open.get(rule)
        if fb.action in ("ack", "dismiss") and open_prompt is not None and open_prompt.id == fb.prompt_id:
            del state.open[rule]  # the agent closed it; the sidebar already knows
        return []

    def _silence(self, state: CallState, now: int) -> list[Output]:
        """Rules on silence, at the moment each threshold was crossed (the same in replay and live)."""
        if state.last_end_ms is None or state.last_evidence is None:
            return []
        out: list[Output] = []
        for threshold in self.rules.silence_thresholds:
            at = state.last_end_ms + threshold
            if threshold in state.silence_done or now < at:
                continue
            state.silence_done.add(threshold)
            moment = Moment(at, state.last_evidence, [], {}, 0)
            out.extend(self._expire(state, at))
            out.extend(self._fire(state, moment, "silence", features={"silence_ms": threshold}))
        return out

    # -- utterances ---------------------------------------------------------------------------------
    def _utterance(self, state: CallState, u: Utterance) -> list[Output]:
        if not u.final:  # interim results never raise prompts, but they are speech: no silence meanwhile
            if state.last_end_ms is None or u.end_ms > state.last_end_ms:
                state.last_end_ms = u.end_ms
                state.silence_done.clear()
            return []
        out: list[Output] = self._silence(state, u.start_ms)
        t = u.end_ms
        state.last_ms = max(state.last_ms, t)
        state.utterances += 1
        text = normalize(u.text)
        if not state.lang_fixed and state.lang is None and text:
            state.lang = detect_lang(text)
            out.extend(self._check_lang(state, state.lang, u.start_ms))
        hits = self.rules.matchers[u.speaker].match(text)
        words = word_count(text)
        other = "customer" if u.speaker == "agent" else "agent"
        gap = u.start_ms - state.ends[other] if other in state.ends else 0
        for cue, speaker, bounds in self.rules.computed:
            if speaker in (u.speaker, "any") and _within(bounds.min_words, words, bounds.max_words) \
                    and (bounds.min_gap_ms is None or (other in state.ends and gap >= bounds.min_gap_ms)):
                hits.append(CueHit(cue, snippet(text, 40), 0, 0))  # the turn's start, quoted in why
        present: dict[str, int] = {}
        for cue, _ in {(h.cue, h.text) for h in hits}:
            present[cue] = present.get(cue, 0) + 1
        moment = Moment(t, Evidence(u.speaker, u.text, t), hits, present, words, text)

        out.extend(self._expire(state, t))
        out.extend(self._resolve(state, moment))
        self._update_flags(state, u.speaker, moment)
        if u.speaker == "customer":
            state.customer_spoke = True
            state.run_words += words
            if words > self.rules.settings.backchannel_words:
                state.agent_run_words = 0  # the customer took the floor; "mm-hmm" does not
        else:
            state.agent_run_words += words
        crossed = self._classify(state, moment, out) if state.scores or u.speaker == "customer" else []
        # the other speaker was still talking when this utterance began: talking over them
        overlap = 0
        if other in state.ends and state.starts.get(other, u.start_ms) < u.start_ms:
            overlap = max(0, state.ends[other] - u.start_ms)
        duration = u.end_ms - u.start_ms
        features = {"words": words, "run_words": state.run_words, "agent_run_words": state.agent_run_words,
                    "overlap_ms": overlap, "gap_ms": max(0, gap),
                    "rate_wpm": words * 60_000 // duration if duration >= _MIN_RATE_MS else 0}

        could_fire = self._could_fire(u.speaker, moment, features, state.flags) if self._prefilter else None
        if could_fire != 0:
            out.extend(self._fire(state, moment, u.speaker, cues=moment.present, features=features,
                                  could_fire=could_fire))
        for type_id in crossed:
            out.extend(self._fire(state, moment, "type", type_id=type_id, could_fire=1))
        if u.speaker == "agent" and words > self.rules.settings.backchannel_words:
            state.run_words = 0  # a real answer ends the customer's run; "mm-hmm" does not
        state.ends[u.speaker] = max(u.end_ms, state.ends.get(u.speaker, 0))
        state.starts[u.speaker] = u.start_ms
        if state.last_end_ms is None or u.end_ms >= state.last_end_ms:
            state.last_end_ms = u.end_ms
            state.silence_done.clear()
        state.last_evidence = moment.evidence
        return out

    def _could_fire(self, speaker: str, moment: Moment, features: dict[str, int], flags: Container[str]) -> int:
        """How many rules could fire on this utterance (their cues, minimums and state flags are met): 0
        means it need not be posted at all, and once that many have fired no repost is needed."""
        present = moment.present
        always = self.rules.conditions_always[speaker]
        by_cue = self.rules.conditions_by_cue[speaker]
        possible: set[str] = set()
        for cond in (*always, *(c for cue in present for c in by_cue.get(cue, ()))):
            if cond.rule not in possible and cond.may_match(present, features, flags):
                possible.add(cond.rule)
        return len(possible)

    def _update_flags(self, state: CallState, speaker: str, moment: Moment) -> None:
        heard = moment.present.keys()
        touched = {name for cue in heard for name in self.rules.state_index.get(cue, ())}
        for name in touched:
            rule = self.rules.states[name]
            if any(combo <= heard for combo in rule.set_by.get(speaker, ())):
                state.flags[name] = moment.evidence
                state.seen.add(name)
            elif name in state.flags and any(combo <= heard for combo in rule.cleared_by.get(speaker, ())):
                del state.flags[name]

    def _classify(self, state: CallState, moment: Moment, out: list[Output]) -> list[str]:
        """Raise type scores from a customer turn's cues (any turn: let faded ones go); return the types
        that just crossed the threshold."""
        t, ev = moment.t_ms, moment.evidence
        crossed: list[str] = []
        touched = scores.raise_scores(self.rules, state, moment.hits, t) if ev.speaker == "customer" else []
        if not touched and state.steady_until is not None and t <= state.steady_until:
            return crossed  # no score raised, none fading yet: every type, flag and the top stand as they are
        for type_id in touched:
            state.type_evidence_for(type_id).append(ev)
            if type_id not in state.tipped and state.scores[type_id] >= self._threshold:
                state.tipped.add(type_id)
                state.flags[type_flag(type_id)] = ev
                state.seen.add(type_flag(type_id))
                crossed.append(type_id)
        for type_id in self.rules.half_lives:  # a faded type may cross again later, and its flag goes
            if type_id in state.tipped and scores.current(self.rules, state, type_id, t) < self._threshold:
                state.tipped.discard(type_id)
                state.flags.pop(type_flag(type_id), None)
        if touched or self.rules.half_lives:
            state.types = scores.all_at(self.rules, state, t)
        top = scores.top_at(self.rules, state, t)
        state.steady_until = scores.steady_until(self.rules, state, t)
        if top != state.top:
            state.top = top
            state.classification = Classification(
                call_id=state.call_id, t_ms=t, types=state.types, top=top,
                evidence=tuple(state.type_evidence.get(top, ())) if top else (),
            )
            out.append(state.classification)
        return crossed

    # -- prompts --------------------------------------------------------------------------------------
    def _fire(self, state: CallState, moment: Moment, on: str, *, cues: Mapping[str, int] | None = None,
              features: Mapping[str, int] | None = None, type_id: str | None = None,
              could_fire: int | None = None) -> list[Output]:
        """Post what was heard `on` a speaker, a silence or a type crossing, seen together with the
        call's state flags; open the prompts of the rules that fire."""
        t = moment.t_ms
        if not state.customer_spoke:  # the opening greeting is never a closing, nor anything to coach
            return []
        facts = encode_facts(on, state.flags, cues=cues, features=features, type_id=type_id)
        if self._on_post is not None:
            self._on_post(state.call_id, facts)
        result = self._runner.evaluate(state.call_id, facts, could_fire)
        out: list[Output] = [EngineFault(state.call_id, t, rule, err) for rule, err in result.faults]
        candidates = [self.rules.rules[r] for r in result.rules]
        candidates.sort(key=lambda r: -SEVERITY_RANK[r.severity])  # stable: pack order within a severity
        for rule in candidates:
            if rule.id in state.open:
                continue
            last = state.last_fired.get(rule.id)
            if last is not None and t - last < rule.cooldown_ms:
                continue
            if not self._make_room(state, rule, t, out):
                continue
            out.append(self._open_prompt(state, rule, moment, type_id))
        return out

    def _make_room(self, state: CallState, rule: CompiledRule, t: int, out: list[Output]) -> bool:
        """At most `max_open_prompts` are visible: a new prompt displaces the least severe, oldest one,
        and only if it is more severe; otherwise it is not raised at all (never shown and withdrawn)."""
        if len(state.open) < self.rules.settings.max_open_prompts:
            return True
        weakest = min(state.open.values(), key=lambda p: (SEVERITY_RANK[p.severity], p.t_ms))
        if SEVERITY_RANK[weakest.severity] >= SEVERITY_RANK[rule.severity]:
            return False
        del state.open[weakest.rule]
        out.append(Expired(state.call_id, t, weakest.id, weakest.rule, "superseded"))
        return True

    def _open_prompt(self, state: CallState, rule: CompiledRule, moment: Moment, type_id: str | None) -> Prompt:
        t = moment.t_ms
        state.next_prompt += 1
        pid = f"{state.call_id}:{state.next_prompt}"
        state.last_fired[rule.id] = t
        state.prompts[rule.id] += 1
        state.prompt_rules[pid] = rule.id
        say, why, evidence = compose(self.rules, state, rule, moment, type_id)
        prompt = state.open[rule.id] = Prompt(
            call_id=state.call_id, t_ms=t, id=pid, rule=rule.id, severity=rule.severity,  # type: ignore[arg-type]
            say=say, why=why, evidence=evidence, supervisor=rule.supervisor,
        )
        return prompt

    def _resolve(self, state: CallState, moment: Moment) -> list[Output]:
        out: list[Output] = []
        ev = moment.evidence
        if ev.speaker != "agent" or not state.open:
            return out
        for rule_id, prompt in list(state.open.items()):
            rule = self.rules.rules[rule_id]
            if any(combo <= moment.present.keys() for combo in rule.resolved_by):
                del state.open[rule_id]
                state.resolved[rule_id] += 1
                out.append(Resolved(state.call_id, moment.t_ms, prompt.id, rule_id, ev))
        return out

    def _expire(self, state: CallState, t: int) -> list[Output]:
        out: list[Output] = []
        for rule_id, prompt in list(state.open.items()):
            expire = self.rules.rules[rule_id].expire_ms
            if expire is not None and t - prompt.t_ms >= expire:
                del state.open[rule_id]
                out.append(Expired(state.call_id, t, prompt.id, rule_id, "timeout"))
        return out
