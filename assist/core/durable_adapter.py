"""The only module that imports durable_rules; everything it does wrong stops here.

What this contains (the README's "durable_rules, contained" has the measurements):
- a Host whose background threads never start: time comes from events, not wall-clock timers;
- rulesets registered once per process under a content-addressed name;
- one durable_rules session (sid) per ruleset, shared by every call. Compiled rules are
  single-pattern (no joins), post events (never facts) and never use durable_rules' own state, so a
  session keeps nothing between two posts: an unmatched event is discarded, a matched one consumed,
  and `post` runs every action it triggers before it returns. What a call remembers lives in Python
  (the engine's CallState). One session instead of one per call removes three measured problems:
  ~380 KB of C memory per session with this pack (16 message slots of ~6.7 KB, ~10 KB of frame
  tables per rule, each touched when the session is created, so the first event of every new call
  page-faulted ~90 times on the event loop: the second-long stall under load on a VM whose memory
  is backed lazily), the corruption past 1,024 live sessions per ruleset (which forced sharding), and
  delete_state, which segfaults under load (about the 400th delete of 1,000; upstream PR #297 fixed
  it only in the old v0) and raises error 309 for a session never posted to;
- an event is consumed by the first rule that fires, so the same facts are posted again with that
  rule's done flag set until nothing more fires;
- "no rule matched" is the normal answer; MessageObservedException (content de-duplication) is
  impossible because every post carries a fresh counter;
- events are posted through the C extension (assert_event, then start_action_for_state and
  complete_and_start_action for each rule the event fired), not through Host.post: Host.post
  serialises with json.dumps, builds an exception that serialises the event again on the normal
  no-match answer, and for every rule that fires builds a Closure, runs the Python action and
  writes the session's state back as JSON (update_state) - ~7 µs of an ~11 µs no-match post and
  ~60 µs per fired rule here. The rules have no Python actions to run: which rules fired is the
  answer, read from the names the C engine returns; nothing here writes the session's state;
- an exception inside a Python action would be swallowed by durable_rules; none runs (above), and
  `Fired.faults` stays the place to report one should actions come back.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import durable_rules_engine as _engine
import orjson
from durable import engine as _durable

from assist.core.compiled import CompiledCondition, CompiledRule
from assist.errors import CapacityError

SESSION = "all"  # the one sid every call's events are posted under
_NOT_HANDLED, _OBSERVED, _QUEUED = 1, 2, 3  # assert_event's result codes (durable.engine.Ruleset._handle_result)

# -- the encoding: rules as durable_rules terms, what the engine heard as facts -----------------------
# A fact is one flat dict: `k` what it is about (a speaker's utterance, a silence, a type crossing),
# `t` the type crossed, `c_<cue>` distinct phrases heard of a cue, `f_<feature>` a number (words,
# gap_ms…), `s_<flag>` a call state flag that is set, `d_<i>` rule i already fired on this fact.
_KIND = {"agent": "a", "customer": "c", "silence": "s", "type": "t"}


def _done_flag(index: int) -> str:
    return f"d_{index}"


def _condition_json(cond: CompiledCondition, done: str) -> dict[str, Any]:
    terms: list[dict[str, Any]] = []
    if cond.on == "any":
        terms.append({"$or": [{"k": _KIND["agent"]}, {"k": _KIND["customer"]}]})
    else:
        terms.append({"k": _KIND[cond.on]})
    if cond.on == "type":
        terms.append({"t": cond.type})
    terms.extend({"$gte": {f"c_{cue}": 1}} for cue in cond.all)
    if cond.any:
        alts = [{"$gte": {f"c_{cue}": 1}} for cue in cond.any]
        terms.append(alts[0] if len(alts) == 1 else {"$or": alts})
    terms.extend({"$nex": {f"c_{cue}": 1}} for cue in cond.none)
    terms.extend({"$ex": {f"s_{flag}": 1}} for flag in cond.state)
    terms.extend({"$nex": {f"s_{flag}": 1}} for flag in cond.not_state)
    terms.extend({"$gte": {f"c_{cue}": least}} for cue, least in cond.cue_mins)
    terms.extend({"$gte": {f"f_{name}": least}} for name, least in cond.feature_mins)
    terms.append({"$nex": {done: 1}})
    return {"$and": terms}


def ruleset_json(rules: Iterable[CompiledRule]) -> dict[str, Any]:
    """The durable_rules definition of `rules` (in the order given, which :class:`DurableRules` is
    handed too): one rule each, excluded from a fact once it has fired on it (its done flag)."""
    out: dict[str, Any] = {}
    for i, rule in enumerate(rules):
        conds = [_condition_json(c, _done_flag(i)) for c in rule.conditions]
        out[rule.id] = {"all": [{"m": conds[0] if len(conds) == 1 else {"$or": conds}}], "run": rule.id}
    return out


def encode_facts(on: str, flags: Iterable[str], *, cues: Mapping[str, int] | None = None,
                 features: Mapping[str, int] | None = None, type_id: str | None = None) -> dict[str, Any]:
    """One fact for :meth:`DurableRules.evaluate`: what was heard (`on` a speaker, 'silence' or 'type'),
    seen together with the call's state `flags`."""
    facts: dict[str, Any] = {"k": _KIND[on]}
    if features:
        for name, value in features.items():
            facts["f_" + name] = value
    if cues:
        for cue, n in cues.items():
            facts["c_" + cue] = n
    if type_id is not None:
        facts["t"] = type_id
    for flag in flags:
        facts["s_" + flag] = 1
    return facts


class _QuietHost(_durable.Host):  # type: ignore[misc]
    """durable_rules Host without its two wall-clock dispatch threads."""

    def __init__(self) -> None:
        self.fired: list[tuple[str, str]] = []
        self.faults: list[tuple[str, str]] = []
        super().__init__()

    def _run(self) -> None:
        return None

    def get_action(self, action_name: str) -> Any:
        fired = self.fired
        faults = self.faults

        def action(c: Any) -> None:
            try:
                fired.append((action_name, str(c.m["sid"])))
            except Exception as exc:  # durable_rules would swallow it; report it instead
                faults.append((action_name, repr(exc)))

        return action


@dataclass
class _Shared:
    host: _QuietHost
    registered: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)
    counter: itertools.count[int] = field(default_factory=itertools.count)  # every post distinct


_SHARED: _Shared | None = None


def _shared() -> _Shared:
    global _SHARED
    if _SHARED is None:
        _SHARED = _Shared(_QuietHost())
    return _SHARED


@dataclass(frozen=True, slots=True)
class Fired:
    rules: list[str]
    faults: list[tuple[str, str]]


class DurableRules:
    """Evaluate a compiled ruleset for up to `max_calls` open calls, all through one durable_rules session."""

    def __init__(self, name: str, definition: Mapping[str, Any], rule_ids: Sequence[str], max_calls: int):
        """`definition` is :func:`ruleset_json` of the rules whose ids are `rule_ids`, in that order."""
        self._shared = _shared()
        self._ruleset = name
        self._done = {rule: _done_flag(i) for i, rule in enumerate(rule_ids)}
        self._max_calls = max_calls
        self._calls: set[str] = set()
        with self._shared.lock:
            if name not in self._shared.registered:
                # register_rulesets mutates what it is given: always hand it a copy
                self._shared.host.register_rulesets({name: copy.deepcopy(dict(definition))})
                self._shared.registered.add(name)
            self._rules = self._shared.host.get_ruleset(name)
            self.evaluate("", {"k": "start-up"})  # the session's C state is made now, not on a call

    def open(self, call_id: str) -> None:
        if call_id in self._calls:
            return
        if len(self._calls) >= self._max_calls:
            raise CapacityError(f"call '{call_id}' refused: {self._max_calls} calls already open "
                                "(the configured maximum)")
        self._calls.add(call_id)

    def evaluate(self, call_id: str, facts: dict[str, Any], could_fire: int | None = None) -> Fired:
        """Post `facts` for an open call; return every rule that fires on them (each at most once).

        `could_fire` is how many rules could match at most; once that many fired, no repost is needed.
        """
        fired_rules: list[str] = []
        event = dict(facts)
        event["sid"] = SESSION
        with self._shared.lock:
            for _ in range(len(self._done) + 1):
                event["n"] = next(self._shared.counter)
                new = self._post(event)
                if not new:
                    break
                for name in new:
                    fired_rules.append(name)
                    event[self._done[name]] = 1
                if could_fire is not None and len(fired_rules) >= could_fire:
                    break
        return Fired(fired_rules, [])

    def _post(self, event: dict[str, Any]) -> list[str]:
        """Post one event; the names of the rules it fired (consumed as they are read)."""
        handle = self._rules._handle
        code, state = _engine.assert_event(handle, orjson.dumps(event).decode())
        if code in (_NOT_HANDLED, _OBSERVED):
            return []
        state = 0 if code == _QUEUED else state
        fired: list[str] = []
        started = _engine.start_action_for_state(handle, state)
        messages = started[1] if started is not None else None
        while messages is not None:  # {"<rule>": <the event it matched>}, one rule at a time
            fired.extend(orjson.loads(messages))
            messages = _engine.complete_and_start_action(handle, state)
        return fired

    def close(self, call_id: str) -> None:
        self._calls.discard(call_id)

    def close_all(self) -> None:
        self._calls.clear()


class RawRuleset:
    """A fresh copy of a ruleset for baselines: bare durable_rules posting, nothing around it.

    `post(ruleset_name, event)` is durable_rules' own post; it raises one of `NOTHING_FIRED` when no
    rule matched. With `calls`, each call gets its own session (durable_rules' usual way), spread over
    enough copies to stay clear of its 1,024-session limit; sessions are never freed (deleting them
    is what crashes): for benchmarks only. Without `calls`, every event goes to one session.
    """

    NOTHING_FIRED = (_durable.MessageNotHandledException, _durable.MessageObservedException)
    SESSIONS_PER_COPY = 900

    def __init__(self, definition: Mapping[str, Any], calls: int | None = None):
        shared = _shared()
        copies = 1 if calls is None else max(1, -(-calls // self.SESSIONS_PER_COPY))
        self._names = [f"raw-{uuid.uuid4().hex[:8]}#{n}" for n in range(copies)]
        self._per_call = calls is not None
        with shared.lock:
            for name in self._names:
                shared.host.register_rulesets({name: copy.deepcopy(dict(definition))})
        self.post = shared.host.post

    def address(self, call_id: str) -> tuple[str, str]:
        """The ruleset copy and the session a call's events go to."""
        if not self._per_call:
            return self._names[0], SESSION
        return self._names[zlib.crc32(call_id.encode()) % len(self._names)], call_id
