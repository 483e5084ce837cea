"""The words of a prompt: its suggested phrase, its one-line why, and the evidence behind it."""

from __future__ import annotations

from assist.core.call import CallState, Moment
from assist.core.compiled import CompiledRule, CompiledRules
from assist.core.normalize import base_lang, has_cjk, normalize, to_traditional
from assist.core.outputs import Evidence


class _Placeholders:
    """Values for a rule's `why` template; an unknown name reads as empty (lint rejects those anyway)."""

    __slots__ = ("values",)

    def __init__(self, values: dict[str, str]):
        self.values = values

    def __getitem__(self, key: str) -> str:
        return self.values.get(key, "")


def _quote_separator(template: str) -> str:
    """What goes between two heard phrases so each keeps the template's own quotes around {heard}:
    ", " for "{heard}", ”、“ for “{heard}”, “, „ for „{heard}“."""
    at = template.find("{heard}")
    before, after = template[at - 1:at], template[at + 7:at + 8]
    comma = "、" if has_cjk(template) else ", "
    if at > 0 and after and not before.isalnum() and not after.isalnum() and not before.isspace():
        return after + comma + before
    return comma


def compose(rules: CompiledRules, state: CallState, rule: CompiledRule, moment: Moment,
            type_id: str | None) -> tuple[str, str, tuple[Evidence, ...]]:
    """(say, why, evidence) in the call's language; Traditional script for zh-Hant calls."""
    default = rules.languages[0]
    lang = state.lang or default
    say = rule.say.get(lang) or rule.say.get(base_lang(lang) or "") or rule.say[default]
    why_lang = "zh" if lang == "zh-Hant" else lang if lang in rule.why else default
    why_tpl = rule.why[why_lang]
    ev = moment.evidence
    cues = rule.cues if type_id is None else rules.types[type_id].keys()
    original = ev.text
    quoted = [h for h in moment.hits if h.cue in cues]
    said = moment.said or normalize(original) if quoted else ""
    same = len(original) == len(said)  # then quote the speaker's own spelling
    heard = _quote_separator(why_tpl).join(dict.fromkeys(original[h.start:h.end] if same and h.end else h.text
                                                         for h in quoted))
    evidence: list[Evidence] = [state.flags[s] for s in rule.states if s in state.flags]
    if type_id is not None:
        evidence.extend(state.type_evidence.get(type_id, ()))
    evidence.append(ev)
    title = rules.type_titles.get(type_id or "", {}).get(why_lang, type_id or "")
    why = why_tpl.format_map(_Placeholders({"heard": heard, "words": str(moment.words),
                                            "run_words": str(state.run_words), "type": title}))
    if lang == "zh-Hant":
        why = to_traditional(why)
    return say, why, tuple(dict.fromkeys(evidence))
