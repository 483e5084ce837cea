"""Check rule packs against each other and compile them once into what the engine runs.

Each rule condition becomes a ``CompiledCondition``, which :mod:`assist.core.durable_adapter` (the one
home of the durable_rules encoding) turns into one ruleset. Cue lexicons become one multi-pattern
matcher per speaker.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from typing import Any

from assist.core.compiled import (
    CompiledCondition,
    CompiledRule,
    CompiledRules,
    Intensity,
    StateRule,
    type_flag,
)
from assist.core.cues import STEM, CueMatcher, CuePatterns
from assist.core.durable_adapter import ruleset_json
from assist.core.normalize import to_traditional
from assist.errors import RulePackError
from assist.rulepack.load import RulePack
from assist.rulepack.regex_safety import nested_quantifier
from assist.rulepack.schema import FEATURES, Condition, LexEntry, Rule

WHY_FIELDS = frozenset({"heard", "words", "run_words", "type"})


def combos(entries: list[str]) -> tuple[frozenset[str], ...]:
    """'summary+time' → {'summary', 'time'}: all cues of one entry must be in the same utterance."""
    return tuple(frozenset(e.split("+")) for e in entries)


def _condition_cues(c: Condition) -> set[str]:
    return set(c.all) | set(c.any) | set(c.none) | {k for k in c.min if k not in FEATURES}


def _check_regex(rx: str) -> str | None:
    try:
        compiled = re.compile(rx)
    except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}, 2,000 nested groups
        return f"invalid regular expression ({exc or type(exc).__name__})"
    if compiled.match(""):
        return "regular expression matches the empty string"
    nested = nested_quantifier(rx)
    if nested:
        return (f"regular expression with nested quantifiers ({nested}): it can take exponential time on "
                "a long utterance; write it without a repeat inside a repeat")
    return None


def _check_why(text: str) -> str | None:
    """Whether the engine can fill this `why` template: named WHY_FIELDS only, valid format syntax."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:  # a single '{' or '}'
        return f"invalid template ({exc}); write {{{{ or }}}} for a literal brace"
    if names - WHY_FIELDS:
        return f"unknown placeholder {sorted(names - WHY_FIELDS)}; expected some of {sorted(WHY_FIELDS)}"
    try:  # what parse() lets through: '{heard!x}', '{heard:{}}', '{words:d}' on a string
        text.format_map(dict.fromkeys(WHY_FIELDS, ""))
    except (ValueError, KeyError, IndexError) as exc:
        return f"invalid template ({exc})"
    return None


def check(packs: list[RulePack]) -> list[str]:
    """Cross-reference problems: unknown cues, states, types, languages, duplicate ids."""
    problems: list[str] = []
    cues: dict[str, Any] = {}
    states: set[str] = set()
    types: set[str] = set()
    seen_rules: dict[str, str] = {}
    for pack in packs:
        m, ms = pack.manifest, pack.manifest_source
        first = packs[0].manifest
        if m.settings != first.settings:  # they are the engine's, not one pack's: every pack must agree
            problems.append(f"{ms.at(('settings',))}: field 'settings': expected the settings of pack "
                            f"'{first.id}' ({first.settings.model_dump()}), got {m.settings.model_dump()}")
        for name in m.cues:
            if name in cues:
                problems.append(f"{ms.at(('cues', name))}: field 'cues.{name}': cue defined by two packs")
        cues.update(m.cues)
        states |= set(m.state) | {type_flag(t) for t in m.types}  # type_<id>: that type crossed the threshold
        types |= set(m.types)

    for pack in packs:
        m, ms = pack.manifest, pack.manifest_source
        for sname, sdecl in m.state.items():
            for which in ("set_by", "cleared_by"):
                for spk, entries in getattr(sdecl, which).items():
                    for i, entry in enumerate(entries):
                        for cue in entry.split("+"):
                            if cue not in cues:
                                problems.append(f"{ms.at(('state', sname, which, spk, i))}: field "
                                                f"'state.{sname}.{which}.{spk}[{i}]': unknown cue '{cue}'")
        for tname, tdecl in m.types.items():
            for cue in tdecl.cues:
                if cue not in cues:
                    problems.append(f"{ms.at(('types', tname, 'cues', cue))}: field "
                                    f"'types.{tname}.cues.{cue}': unknown cue '{cue}'")
        for i, item in enumerate(m.checklist):
            for fld in ("done", "applies_if"):
                val = getattr(item, fld)
                if val is not None and val not in states:
                    problems.append(f"{ms.at(('checklist', i, fld))}: field 'checklist[{i}].{fld}': "
                                    f"unknown state '{val}'")
        for lang in m.languages:
            if lang not in pack.lexicons:
                problems.append(f"{ms.at(('languages',))}: field 'languages': no lexicon/{lang}.yaml")
        for lang, lex in pack.lexicons.items():
            ls = pack.lexicon_sources[lang]
            for cue, entry in lex.cues.items():
                if cue not in cues:
                    problems.append(f"{ls.at(('cues', cue))}: field 'cues.{cue}': cue not declared in any "
                                    "pack.yaml")
                for j, rx in enumerate(entry.regex):
                    err = _check_regex(rx)
                    if err:
                        problems.append(f"{ls.at(('cues', cue, 'regex', j))}: field "
                                        f"'cues.{cue}.regex[{j}]': {err}")
                for fld in ("phrases", "strong", "weak"):
                    if any(not p.strip(STEM).strip() for p in getattr(entry, fld)):
                        problems.append(f"{ls.at(('cues', cue, fld))}: field 'cues.{cue}.{fld}': empty phrase")
                    for p in getattr(entry, fld):
                        if STEM in p.rstrip(STEM) or p.endswith(STEM * 2):
                            problems.append(f"{ls.at(('cues', cue, fld))}: field 'cues.{cue}.{fld}': expected "
                                            f"'{STEM}' only once, at the end of a stem, got '{p}'")
                both = sorted({s.casefold() for s in entry.strong} & {s.casefold() for s in entry.weak})
                if both:
                    problems.append(f"{ls.at(('cues', cue, 'weak'))}: field 'cues.{cue}.weak': expected a phrase "
                                    f"to be strong or weak, not both: {', '.join(both)}")
            for cue, decl in m.cues.items():
                if decl.computed is None and cue not in lex.cues:
                    problems.append(f"{ls.at(('cues',))}: field 'cues': cue '{cue}' has no {lang} "
                                    "phrases or regex")

        for rule in pack.rules:
            rs = pack.rule_sources[rule.id]
            who = f"rule '{rule.id}'"
            if rule.id in seen_rules:
                problems.append(f"{rs.at(('id',))}: {who}: field 'id': also defined in {seen_rules[rule.id]}")
            seen_rules[rule.id] = rs.file
            for ci, cond in enumerate(rule.conditions):
                base = ("when", ci) if isinstance(rule.when, list) else ("when",)
                label = ".".join(str(b) for b in base)
                for fld in ("all", "any", "none"):
                    for j, cue in enumerate(getattr(cond, fld)):
                        if cue not in cues:
                            problems.append(f"{rs.at((*base, fld, j))}: {who}: field '{label}.{fld}[{j}]': "
                                            f"unknown cue '{cue}'")
                for fld in ("state", "not_state"):
                    for j, st in enumerate(getattr(cond, fld)):
                        if st not in states:
                            problems.append(f"{rs.at((*base, fld, j))}: {who}: field '{label}.{fld}[{j}]': "
                                            f"unknown state '{st}'")
                for key in cond.min:
                    if key not in FEATURES and key not in cues:
                        problems.append(f"{rs.at((*base, 'min', key))}: {who}: field '{label}.min.{key}': "
                                        f"expected a cue or one of {', '.join(FEATURES)}, got '{key}'")
                if cond.type is not None and cond.type not in types:
                    problems.append(f"{rs.at((*base, 'type'))}: {who}: field '{label}.type': "
                                    f"unknown customer type '{cond.type}'")
                if rule.on == "silence" and "silence_ms" not in cond.min:
                    problems.append(f"{rs.at(base)}: {who}: field '{label}.min.silence_ms': rules with on: silence "
                                    "need a silence_ms minimum")
                if rule.on != "type" and not (_condition_cues(cond) or cond.min):
                    problems.append(f"{rs.at(base)}: {who}: field '{label}': a condition needs at least one "
                                    "cue or feature")
            for j, entry in enumerate(rule.resolved_by):
                for cue in entry.split("+"):
                    if cue not in cues:
                        problems.append(f"{rs.at(('resolved_by', j))}: {who}: field 'resolved_by[{j}]': "
                                        f"unknown cue '{cue}'")
            for fld in ("say", "why"):
                for lang in m.languages:
                    if lang not in getattr(rule, fld):
                        problems.append(f"{rs.at((fld,))}: {who}: field '{fld}.{lang}': missing; every pack "
                                        "language needs one")
            for lang, text in rule.why.items():
                err = _check_why(text)
                if err:
                    problems.append(f"{rs.at(('why', lang))}: {who}: field 'why.{lang}': {err}")
            for j, case in enumerate(rule.cases):
                if case.lang not in m.languages:
                    problems.append(f"{rs.at(('cases', j, 'lang'))}: {who}: field 'cases[{j}].lang': expected "
                                    f"one of {m.languages}, got '{case.lang}'")
    return problems


def coverage(packs: list[RulePack], minimum: int = 5) -> list[str]:
    """Lint findings: rules with fewer than `minimum` firing and quiet cases per language."""
    out: list[str] = []
    for pack in packs:
        for rule in pack.rules:
            rs = pack.rule_sources[rule.id]
            for lang in pack.manifest.languages:
                for expect in ("fire", "quiet"):
                    n = sum(1 for c in rule.cases if c.lang == lang and c.expect == expect)
                    if n < minimum:
                        out.append(f"{rs.at(('cases',))}: rule '{rule.id}': field 'cases': expected at least "
                                   f"{minimum} '{expect}' cases in {lang}, got {n}")
    return out


def _compiled_condition(rule: Rule, cond: Condition) -> CompiledCondition:
    return CompiledCondition(
        rule=rule.id, on=rule.on, type=cond.type, all=tuple(cond.all), any=tuple(cond.any), none=tuple(cond.none),
        state=tuple(cond.state), not_state=tuple(cond.not_state),
        cue_mins=tuple((k, v) for k, v in cond.min.items() if k not in FEATURES),
        feature_mins=tuple((k, v) for k, v in cond.min.items() if k in FEATURES),
    )


def _say(rule: Rule) -> dict[str, str]:
    say = dict(rule.say)
    if "zh" in say:
        say["zh-Hant"] = to_traditional(say["zh"])
    return say


def _weights(entry: LexEntry, intensity: Intensity) -> tuple[tuple[str, float], ...]:
    return (*((s.casefold(), intensity.strong) for s in entry.strong),
            *((s.casefold(), intensity.weak) for s in entry.weak))


def compile_packs(packs: list[RulePack]) -> CompiledRules:
    """Validate packs together and build the engine's tables; raise RulePackError listing every problem."""
    problems = check(packs)
    if problems:
        raise RulePackError(problems)
    decls = {name: decl for p in packs for name, decl in p.manifest.cues.items()}
    negatable = frozenset(n for n, d in decls.items() if d.negatable)
    matchers: dict[str, CueMatcher] = {}
    for speaker in ("agent", "customer"):
        patterns: dict[str, list[CuePatterns]] = {}
        for p in packs:
            for lex in p.lexicons.values():
                for cue, entry in lex.cues.items():
                    if decls[cue].speaker in (speaker, "any"):
                        patterns.setdefault(cue, []).append(
                            CuePatterns(tuple(s.casefold() for s in entry.phrases), tuple(entry.regex),
                                        _weights(entry, p.manifest.settings.intensity)))
        matchers[speaker] = CueMatcher(patterns, negatable)
    computed = tuple((n, d.speaker, d.computed) for n, d in decls.items() if d.computed)
    states = {
        name: StateRule({k: combos(v) for k, v in s.set_by.items()},
                        {k: combos(v) for k, v in s.cleared_by.items()})
        for p in packs for name, s in p.manifest.state.items()
    }
    all_rules = [r for p in packs for r in p.rules]
    # in the packs' own order: the first is the language of prompts on a call in any other language
    languages = list(dict.fromkeys(lang for p in packs for lang in p.manifest.languages))
    rules = {
        r.id: CompiledRule(
            id=r.id, severity=r.severity, on=r.on, say=_say(r), why=dict(r.why),
            resolved_by=combos(r.resolved_by), cooldown_ms=r.cooldown_ms, expire_ms=r.expire_ms,
            supervisor=r.supervisor,
            cues=frozenset(c for cond in r.conditions for c in _condition_cues(cond) - set(cond.none)),
            states=tuple(dict.fromkeys(s for cond in r.conditions for s in cond.state)),
            conditions=tuple(_compiled_condition(r, cond) for cond in r.conditions),
        )
        for r in all_rules
    }
    ruleset = ruleset_json(rules.values())
    by_cue: dict[str, dict[str, list[CompiledCondition]]] = {"agent": {}, "customer": {}}
    always: dict[str, list[CompiledCondition]] = {"agent": [], "customer": []}
    for rule in rules.values():
        speakers = {"agent": ["agent"], "customer": ["customer"], "any": ["agent", "customer"]}.get(rule.on, [])
        for cond in rule.conditions:
            keys = cond.keys
            for spk in speakers:
                if keys:
                    for cue in keys:
                        by_cue[spk].setdefault(cue, []).append(cond)
                else:
                    always[spk].append(cond)
    state_index: dict[str, list[str]] = {}
    for p in packs:
        for name, sdecl in p.manifest.state.items():
            for combos_ in (*sdecl.set_by.values(), *sdecl.cleared_by.values()):
                for combo in combos_:
                    for cue in combo.split("+"):
                        state_index.setdefault(cue, [])
                        if name not in state_index[cue]:
                            state_index[cue].append(name)
    type_index: dict[str, list[tuple[str, float]]] = {}
    for p in packs:
        for tname, tdecl in p.manifest.types.items():
            for cue, weight in tdecl.cues.items():
                type_index.setdefault(cue, []).append((tname, weight))
    blob = json.dumps([p.manifest.model_dump() for p in packs] +
                      [{k: v.model_dump() for k, v in p.lexicons.items()} for p in packs] + [ruleset],
                      sort_keys=True, ensure_ascii=False)
    return CompiledRules(
        digest=hashlib.sha256(blob.encode()).hexdigest()[:12],
        packs=tuple(p.id for p in packs),
        languages=tuple(languages),
        settings=packs[0].manifest.settings,  # check() holds every pack to the same settings
        matchers=matchers,
        computed=computed,
        states=states,
        types={t: dict(d.cues) for p in packs for t, d in p.manifest.types.items()},
        half_lives={t: d.half_life_ms for p in packs for t, d in p.manifest.types.items() if d.half_life_ms},
        type_titles={t: dict(d.title) for p in packs for t, d in p.manifest.types.items()},
        checklist=tuple((c.id, c.done, c.applies_if) for p in packs for c in p.manifest.checklist),
        rules=rules,
        ruleset=ruleset,
        silence_thresholds=tuple(sorted({c.min["silence_ms"] for r in all_rules if r.on == "silence"
                                         for c in r.conditions if "silence_ms" in c.min})),
        conditions_by_cue={spk: {c: tuple(g) for c, g in m.items()} for spk, m in by_cue.items()},
        conditions_always={k: tuple(v) for k, v in always.items()},
        state_index={k: tuple(v) for k, v in state_index.items()},
        type_index={k: tuple(v) for k, v in type_index.items()},
    )
