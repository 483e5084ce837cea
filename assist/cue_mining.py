"""Candidate cue phrases mined from labelled calls: what difficult customers say more often than fine ones.

``collect(paths, labels)`` reads the calls' turns of one speaker; ``suggest(calls, rules)`` ranks word
n-grams (character n-grams of Han text) by the log-odds ratio with an informative Dirichlet prior
(Monroe, Colaresi & Quinn 2008, "Fightin' Words", §3.5.1): the z-score of

    δ_w = log((y_w^d + α_w) / (n^d + α_0 − y_w^d − α_w)) − log((y_w^f + α_w) / (n^f + α_0 − y_w^f − α_w))

where y_w^d and y_w^f count the difficult and fine calls whose turns contain w, n the n-grams of each
side, and the prior α_w = α_0 · (y_w^d + y_w^f) / (n^d + n^f) is the pooled frequency. Counting calls
rather than occurrences keeps one customer who repeats a phrase from ranking it. Each candidate comes
with the cue family it most resembles and the cues that already match it. It proposes; a person decides.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist.core.compiled import CompiledRules
from assist.core.cues import CueMatcher
from assist.core.normalize import detect_lang, normalize
from assist.evaluation import Labels
from assist.formats import ReadOptions, read_file
from assist.replay import transcript_files

_WORD = re.compile(r"[^\W\d_][\w']*|\d+", re.UNICODE)
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HAN_N = (2, 3, 4)       # character n-grams of Chinese
_WORD_N = (1, 2, 3)      # word n-grams of other languages
PRIOR_SHARE = 0.01       # α_0 as a share of all counts: how much the pooled frequencies weigh


@dataclass(slots=True)
class CallText:
    call_id: str
    lang: str | None = None
    turns: list[str] = field(default_factory=list)  # normalised turns of the chosen speaker


@dataclass(frozen=True, slots=True)
class Suggestion:
    phrase: str
    z: float
    difficult: int            # difficult calls whose turns contain it
    fine: int                 # fine calls whose turns contain it
    resembles: str | None     # the cue family whose phrases it is most like (spelling)
    heard_with: str | None    # the cue family most often heard in the same turns (usage)
    covered_by: tuple[str, ...]  # cues whose lexicon already matches inside it

    def to_dict(self, difficult_calls: int, fine_calls: int) -> dict[str, Any]:
        return {"phrase": self.phrase, "z": round(self.z, 2), "difficult": self.difficult, "fine": self.fine,
                "difficult_share": round(self.difficult / difficult_calls, 4) if difficult_calls else None,
                "fine_share": round(self.fine / fine_calls, 4) if fine_calls else None,
                "resembles": self.resembles, "heard_with": self.heard_with, "covered_by": list(self.covered_by)}


def collect(paths: Sequence[str | Path], speaker: str = "customer", fmt: str | None = None) -> Iterator[CallText]:
    """Each call's turns of `speaker`, normalised, in file order (bad lines are skipped: replay reports them)."""
    for path in transcript_files(paths):
        calls: dict[str, CallText] = {}
        for item in read_file(path, fmt, ReadOptions(call_id=path.stem)):
            ev = item.event
            if ev is None or not isinstance(ev.get("call_id"), str):
                continue
            call = calls.setdefault(ev["call_id"], CallText(ev["call_id"]))
            if ev.get("type") == "call.start" and isinstance(ev.get("lang"), str):
                call.lang = ev["lang"].split("-")[0].lower()
            elif (ev.get("type") == "utterance" and ev.get("speaker") == speaker and ev.get("final", True)
                  and isinstance(ev.get("text"), str)):
                call.turns.append(normalize(ev["text"]))
        yield from calls.values()


def call_lang(call: CallText) -> str | None:
    if call.lang:
        return call.lang
    return detect_lang(" ".join(call.turns)) if call.turns else None


def ngrams(text: str) -> set[str]:
    """Character 2-4-grams of each run of Han characters; word 1-3-grams of everything else."""
    out: set[str] = set()
    for run in _HAN_RUN.findall(text):
        for n in _HAN_N:
            out.update(run[i:i + n] for i in range(len(run) - n + 1))
    for segment in _HAN_RUN.split(text):
        words = _WORD.findall(segment)
        for n in _WORD_N:
            out.update(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
    return out


def _call_grams(call: CallText) -> set[str]:
    grams: set[str] = set()
    for turn in call.turns:
        # one clause at a time: an n-gram never spans a sentence break
        for clause in re.split(r"[,.!?;:，。！？；：…\n\[\]【】@#]+", turn):
            grams |= ngrams(clause)
    return grams


def log_odds(difficult: Mapping[str, int], fine: Mapping[str, int],
             prior_share: float = PRIOR_SHARE) -> dict[str, float]:
    """z-scores of the log-odds ratio with an informative Dirichlet prior (pooled counts), difficult vs fine."""
    n_d, n_f = sum(difficult.values()), sum(fine.values())
    total = n_d + n_f
    out: dict[str, float] = {}
    if not n_d or not n_f:
        return out
    prior_weight = prior_share * total
    for w in set(difficult) | set(fine):
        yd, yf = difficult.get(w, 0), fine.get(w, 0)
        a = prior_weight * (yd + yf) / total
        delta = (math.log((yd + a) / (n_d + prior_weight - yd - a))
                 - math.log((yf + a) / (n_f + prior_weight - yf - a)))
        out[w] = delta / math.sqrt(1.0 / (yd + a) + 1.0 / (yf + a))
    return out


def _shingles(text: str) -> set[str]:
    t = text.replace(" ", "_")
    k = 2 if _HAN_RUN.search(t) else 3
    return {t[i:i + k] for i in range(max(1, len(t) - k + 1))}


def resembles(phrase: str, families: Mapping[str, Iterable[str]], at_least: float = 0.3) -> str | None:
    """The cue whose phrases share the most character shingles with `phrase` (Jaccard ≥ `at_least`)."""
    mine = _shingles(phrase)
    best, best_score = None, at_least
    for cue, phrases in families.items():
        for p in phrases:
            theirs = _shingles(p)
            score = len(mine & theirs) / len(mine | theirs)
            if score >= best_score and (best is None or score > best_score):
                best, best_score = cue, score
    return best


def heard_with(phrase: str, turns: Iterable[str], matcher: CueMatcher, cues: Iterable[str]) -> str | None:
    """The cue heard most often in the same turns as `phrase` (outside it): its family by usage."""
    wanted = set(cues)
    seen: Counter[str] = Counter()
    for turn in turns:
        at = _find(turn, phrase)
        if at < 0:
            continue
        end = at + len(phrase)
        seen.update({h.cue for h in matcher.match(turn) if h.cue in wanted and (h.end <= at or h.start >= end)})
    return seen.most_common(1)[0][0] if seen else None


def _find(text: str, phrase: str) -> int:
    if _HAN_RUN.match(phrase):
        return text.find(phrase)
    m = re.search(rf"(?<![\w']){re.escape(phrase)}(?![\w'])", text)
    return m.start() if m else -1


@dataclass(slots=True)
class Mined:
    difficult_calls: int
    fine_calls: int
    suggestions: list[Suggestion]

    def to_dict(self) -> dict[str, Any]:
        return {"difficult_calls": self.difficult_calls, "fine_calls": self.fine_calls,
                "suggestions": [s.to_dict(self.difficult_calls, self.fine_calls) for s in self.suggestions]}


def suggest(calls: Iterable[CallText], labels: Labels, rules: CompiledRules, families: Mapping[str, Iterable[str]],
            *, speaker: str = "customer", lang: str | None = None, top: int = 50, min_calls: int = 5) -> Mined:
    """The `top` phrases most over-represented in difficult calls (seen in at least `min_calls` of them).

    `families` maps each cue of `speaker` to its lexicon phrases (for `resembles`); a phrase contained in a
    higher-ranked suggestion, or containing one, is left out as a repeat of it."""
    difficult: Counter[str] = Counter()
    fine: Counter[str] = Counter()
    n_difficult = n_fine = 0
    difficult_turns: list[str] = []
    for call in calls:
        label = labels.difficult.get(call.call_id)
        if label is None or (lang is not None and call_lang(call) != lang):
            continue
        grams = _call_grams(call)
        if label:
            n_difficult += 1
            difficult.update(grams)
            difficult_turns.extend(call.turns)
        else:
            n_fine += 1
            fine.update(grams)
    z = log_odds(difficult, fine)
    frequent = {w for w in difficult if difficult[w] >= min_calls}
    fragments = _fragments(frequent, difficult)
    ranked = sorted((w for w in frequent if z[w] > 0 and w not in fragments), key=lambda w: (-z[w], w))
    matcher = rules.matchers["agent" if speaker == "agent" else "customer"]
    chosen: list[Suggestion] = []
    for w in ranked:
        if len(chosen) >= top:
            break
        if any(_contains(s.phrase, w) or _contains(w, s.phrase) for s in chosen):
            continue
        covered = tuple(sorted({h.cue for h in matcher.match(w)}))
        chosen.append(Suggestion(w, z[w], difficult[w], fine[w], resembles(w, families),
                                 heard_with(w, difficult_turns, matcher, families), covered))
    return Mined(n_difficult, n_fine, chosen)


def _fragments(grams: set[str], counts: Mapping[str, int], share: float = 0.8) -> set[str]:
    """N-grams that mostly occur inside one longer n-gram (费者 inside 消费者, "telecom customer" inside
    "china telecom customer"): the longer one is the phrase, the fragment is left out."""
    out: set[str] = set()
    for g in grams:
        words = g.split(" ")
        if len(words) > 1 or not _HAN_RUN.fullmatch(g):
            subs = [" ".join(words[1:]), " ".join(words[:-1])] if len(words) > 1 else []
        else:
            subs = [g[1:], g[:-1]] if len(g) > min(_HAN_N) else []
        for sub in subs:
            if sub in grams and counts[g] >= share * counts[sub]:
                out.add(sub)
    return out


def _contains(longer: str, shorter: str) -> bool:
    if _HAN_RUN.fullmatch(shorter.replace(" ", "")):
        return shorter in longer
    return f" {shorter} " in f" {longer} "


def table(mined: Mined) -> str:
    lines = [f"{mined.difficult_calls} difficult and {mined.fine_calls} fine calls; z = log-odds ratio with an "
             "informative Dirichlet prior (higher: more typical of difficult calls)", "",
             f"{'#':>3}  {'phrase':30} {'z':>6} {'difficult':>14} {'fine':>14}  {'resembles':20} {'heard with':20} "
             "covered by"]
    for i, s in enumerate(mined.suggestions, 1):
        d = f"{s.difficult} ({100 * s.difficult / max(1, mined.difficult_calls):.0f} %)"
        f = f"{s.fine} ({100 * s.fine / max(1, mined.fine_calls):.0f} %)"
        lines.append(f"{i:>3}  {s.phrase:30} {s.z:6.2f} {d:>14} {f:>14}  {s.resembles or '-':20} "
                     f"{s.heard_with or '-':20} {', '.join(s.covered_by) or '-'}")
    return "\n".join(lines)
