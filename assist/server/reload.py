"""Rule packs reloaded while the server runs (SIGHUP, or `{"type":"reload_rules"}` on /supervisor).

A pack with a problem is refused with the same file:line problems `assist rules lint` prints, and the
running rules stay. A good one takes every call that starts from then on; **calls already open finish on
the rules they started with.** Why not switch them: a call's state (cue scores, flags, the prompts on
screen and their cooldowns) was built by its pack's rules, types and states; a new pack may rename or
drop them, leaving prompts no rule can resolve, and the call's log would no longer replay to what the
agent saw. durable_rules cannot unregister a ruleset, so each version keeps its content-addressed name
(`packs@digest`) and an old version's engine is closed once its last call ends.

(A call that spans a restart is rebuilt with the rules loaded at start, as it always was.)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from assist.core.compiled import CompiledRules
from assist.core.engine import Engine
from assist.core.events import AnyEvent, CallStart, parse_event
from assist.core.outputs import Fed, Output
from assist.errors import RulePackError

log = logging.getLogger("assist.server")


def version_of(rules: CompiledRules) -> str:
    """What the supervisor view and /healthz show: the packs and a digest of their whole content (the
    compiler's digest covers what durable_rules sees; the wording, timing and severity of rules too)."""
    texts = [[r.id, r.severity, r.on, sorted(r.say.items()), sorted(r.why.items()), r.cooldown_ms, r.expire_ms,
              r.supervisor, sorted(sorted(s) for s in r.resolved_by)] for r in rules.rules.values()]
    blob = json.dumps([rules.digest, sorted(texts)], ensure_ascii=False, sort_keys=True, default=str)
    return f"{'+'.join(rules.packs)}@{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


class PackVersions:
    """The engines of the rule-pack versions in use, fed like one Engine: a call.start goes to the
    newest; every other event to the engine its call started on."""

    def __init__(self, rules: CompiledRules, *, max_calls: int):
        self.max_calls = max_calls
        self.current = Engine(rules, max_calls=max_calls)
        self.version = version_of(rules)
        self._engines: dict[str, Engine] = {self.version: self.current}
        self._versions: dict[str, str] = {}  # open call → version

    @property
    def rules(self) -> CompiledRules:
        return self.current.rules

    def in_use(self) -> dict[str, int]:
        """Version → open calls on it (the newest listed even with none)."""
        counts = dict.fromkeys(self._engines, 0)
        for version in self._versions.values():
            counts[version] += 1
        return counts

    def feed(self, event: AnyEvent | dict[str, Any]) -> Fed:
        ev = parse_event(event) if isinstance(event, dict) else event
        version = self._versions.get(ev.call_id)
        if version is None and isinstance(ev, CallStart):
            version = self.version
        fed = self._engines[version or self.version].feed(ev)
        if isinstance(ev, CallStart):
            self._versions[ev.call_id] = version or self.version
        if not fed.call.open:
            self._ended(ev.call_id)
        return fed

    def end_call(self, call_id: str, t_ms: int) -> list[Output]:
        version = self._versions.get(call_id, self.version)
        outputs = self._engines[version].end_call(call_id, t_ms)
        self._ended(call_id)
        return outputs

    def replace(self, rules: CompiledRules) -> bool:
        """Make `rules` the version new calls start on; False if it is the one already in use."""
        version = version_of(rules)
        if version == self.version:
            return False
        self.current = self._engines.get(version) or Engine(rules, max_calls=self.max_calls)
        self._engines[version] = self.current
        old, self.version = self.version, version
        self._retire(old)
        return True

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()

    def _ended(self, call_id: str) -> None:
        version = self._versions.pop(call_id, None)
        if version is not None:
            self._retire(version)

    def _retire(self, version: str) -> None:
        """Close an old version's engine once no call is left on it."""
        if version != self.version and version not in self._versions.values():
            engine = self._engines.pop(version, None)
            if engine is not None:
                engine.close()
                log.info("rules_retired", extra={"version": version})


async def reload_packs(engines: PackVersions, source: str | Path) -> dict[str, Any]:
    """Load and compile the packs under `source` (off the event loop) and put them in use. Returns the
    answer for the supervisor: `ok` with the version, or the lint problems (running rules kept)."""
    from assist import load_rules  # the library entry point (rulepack sits above core, beside server's deps)

    try:
        rules = await asyncio.to_thread(load_rules, source)
    except RulePackError as exc:
        log.warning("rules_refused", extra={"source": str(source), "problems": exc.problems})
        return {"kind": "rules", "ok": False, "version": engines.version, "problems": exc.problems,
                "message": f"rule packs in {source} refused ({len(exc.problems)} problem(s)); still running "
                           f"{engines.version}"}
    changed = engines.replace(rules)
    log.info("rules_reloaded", extra={"source": str(source), "version": engines.version, "changed": changed})
    return {"kind": "rules", "ok": True, "version": engines.version, "changed": changed,
            "in_use": engines.in_use()}
