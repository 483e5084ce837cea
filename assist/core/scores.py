"""Customer type scores: raised by cue hits, fading for passing states once no fresh evidence comes.

A score is 1 − Π(1 − weight) over the hits of its cues, a strong phrase counting as several hits
(settings.intensity). A type with a half-life (anger, impatience: states, not traits) holds its score for
settings.fade_after_ms after its last evidence, then halves every half-life, so a customer who calms down
stops being shown as angry. Time is event time only; scores are stored as of their last evidence.
"""

from __future__ import annotations

from assist.core.call import CallState
from assist.core.compiled import CompiledRules
from assist.core.cues import CueHit

_FOREVER = 2**63
MAX_REPEAT = 3  # several distinct phrases of one cue in a turn count, up to this many hits


def strengths(hits: list[CueHit]) -> dict[str, float]:
    """Cue → how many hits it counts as: its distinct phrases, each by its weight (strong, weak)."""
    best: dict[tuple[str, str], float] = {}
    for h in hits:
        key = (h.cue, h.text)
        if h.weight > best.get(key, 0.0):
            best[key] = h.weight
    out: dict[str, float] = {}
    for (cue, _), w in best.items():
        out[cue] = out.get(cue, 0.0) + w
    return out


def current(rules: CompiledRules, state: CallState, type_id: str, t_ms: int) -> float:
    """The type's score at `t_ms`: as of its last evidence, faded if the type fades and time has passed."""
    score = state.scores.get(type_id, 0.0)
    half_life = rules.half_lives.get(type_id)
    if half_life is None or not score:
        return score
    idle = t_ms - state.scored_ms.get(type_id, t_ms) - rules.settings.fade_after_ms
    return score * 0.5 ** (idle / half_life) if idle > 0 else score


def raise_scores(rules: CompiledRules, state: CallState, hits: list[CueHit], t_ms: int) -> list[str]:
    """Add this customer turn's evidence; return the types it touched, in pack order."""
    touched: dict[str, float] = {}
    for cue, n in strengths(hits).items():
        times = min(n, MAX_REPEAT)
        for type_id, w in rules.type_index.get(cue, ()):
            score = touched.get(type_id)
            if score is None:
                score = current(rules, state, type_id, t_ms)
            touched[type_id] = 1.0 - (1.0 - score) * (1.0 - w) ** times
    for type_id, score in touched.items():
        state.scores[type_id] = score
        state.scored_ms[type_id] = t_ms
    return [t for t in rules.types if t in touched]


def steady_until(rules: CompiledRules, state: CallState, t_ms: int) -> int | None:
    """Until when every score keeps its stored value (`current` is the score as of its last evidence):
    the moment the first fading type starts to fade, or None if one already has at `t_ms`."""
    until = _FOREVER
    fade_after = rules.settings.fade_after_ms
    for type_id in rules.half_lives:
        if state.scores.get(type_id):
            fades_at = state.scored_ms[type_id] + fade_after
            if t_ms > fades_at:
                return None
            until = min(until, fades_at)
    return until


def all_at(rules: CompiledRules, state: CallState, t_ms: int) -> dict[str, float]:
    """Every scored type at `t_ms`, highest first, rounded for output."""
    now = {t: current(rules, state, t, t_ms) for t in state.scores}
    return {t: round(s, 2) for t, s in sorted(now.items(), key=lambda kv: (-kv[1], kv[0]))}


def top_at(rules: CompiledRules, state: CallState, t_ms: int) -> str | None:
    """The highest type at or above the threshold at `t_ms` (pack order breaks ties), or None."""
    best: str | None = None
    best_score = rules.settings.type_threshold
    for type_id in rules.types:
        if type_id not in state.scores:
            continue
        score = current(rules, state, type_id, t_ms)
        if score >= best_score and (best is None or score > best_score):
            best, best_score = type_id, score
    return best
