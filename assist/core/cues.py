"""Cue matching: lexicon phrases (Aho-Corasick) and regexes over normalised text (each regex run only
on text holding a literal every match of it holds: :mod:`assist.core.regex_gate`).

A phrase may carry an intensity: a hit of a strong phrase ("I'm furious", 气死我了) counts as more than
one hit of its cue when customer types are scored, a weak one as less (`CueHit.weight`).
A hit inside quotation marks is reported speech, not the speaker's own words, and is dropped.
A hit of a negatable cue with a negator shortly before it in the same clause is dropped
("I'm not angry, just asking", "не съм ядосан"), except in a question: "Isn't that ridiculous?", 这不是坑人吗？
and 难道不过分 are indignant, not negated. A phrase ending in ``*`` is a stem: it matches
any ending of its last word ("ядосан*": ядосан, ядосана, ядосани), which is how the Bulgarian
lexicon covers gender, number and aspect forms. Everything here works on text already passed
through :func:`assist.core.normalize.normalize`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import ahocorasick

from assist.core.normalize import has_cjk, has_cyrillic
from assist.core.regex_gate import RegexGate

_CLAUSE_BREAK = re.compile(r"[,.!?;:，。！？；：…\n]|\b(?:but|however|although|though|но|обаче|ама|ала)\b"
                           r"|但是|可是|不过|只是")
_EN_NEGATORS = frozenset({"not", "no", "never", "hardly", "without", "nobody", "neither", "nor"})
_BG_NEGATORS = frozenset({"не", "нито", "никога", "никак", "без", "няма", "нямам", "никой"})
_WORD_NEGATORS = _EN_NEGATORS | _BG_NEGATORS
_ZH_NEGATORS = frozenset("不没别未无非莫")
_QUOTES = {'"': '"', "“": "”", "„": "“", "「": "」", "『": "』", "«": "»"}
_QUOTE_OPENING = re.compile("|".join(map(re.escape, _QUOTES)))
STEM = "*"  # a phrase ending in it matches any ending of its last word
_LATIN = re.compile(r"[a-z]")
_QUESTION_END = re.compile(r"[?？]|吗\s*(?:$|[,.!;:，。！；：…\n])")  # the clause is a question
_RHETORICAL = ("难道", "岂", "凭什么", "何必")
_QUESTION_REACH = 60  # characters around a negated hit searched for the marks of a question
_EN_WINDOW = 3  # tokens before a cue in which a negator cancels it
_ZH_WINDOW = 3  # characters before a cue in which a negator cancels it
_LOOK_BACK = 200  # characters read before a cue for its negators: a long clause costs no more
MAX_HITS = 256  # cue hits kept per utterance; hostile text must not cost hits x anything
_MAX_RAW = 4 * MAX_HITS  # hits found before quotes and negation filter some out


@dataclass(frozen=True, slots=True)
class CueHit:
    cue: str
    text: str
    start: int
    end: int
    weight: float = 1.0  # how many hits of its cue this one counts as (a strong or weak phrase)


@dataclass(frozen=True, slots=True)
class CuePatterns:
    """What one language contributes to one cue."""

    phrases: tuple[str, ...]
    regexes: tuple[str, ...]
    weights: tuple[tuple[str, float], ...] = ()  # phrase → weight, for phrases not of weight 1


def _is_word_char(ch: str) -> bool:
    """A letter of a spaced script (Latin, Cyrillic), a digit or an apostrophe; Han characters are
    not, so Chinese phrases match anywhere."""
    return (ch.isascii() and (ch.isalnum() or ch == "'")) or "\u0400" <= ch <= "\u04ff"


def _quote_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        close = _QUOTES.get(text[i])
        if close is not None:
            j = text.find(close, i + 1)
            if j == -1:
                break
            spans.append((i, j))
            i = j + 1
        else:
            i += 1
    return spans


def _quoted(start: int, span_starts: list[int], spans: list[tuple[int, int]]) -> bool:
    """Is `start` inside a quote span? Spans are sorted and disjoint: one bisect, not a scan."""
    i = bisect_left(span_starts, start) - 1
    return i >= 0 and start < spans[i][1]


def _clause_ends(text: str) -> list[int]:
    """Where each clause after the first starts; found once per utterance, not once per hit."""
    return [m.end() for m in _CLAUSE_BREAK.finditer(text)]


def _negated(text: str, start: int, clause_ends: list[int]) -> bool:
    i = bisect_right(clause_ends, start)
    clause_start = clause_ends[i - 1] if i else 0
    before = text[max(clause_start, start - _LOOK_BACK):start]
    if not before:
        return False
    if before[-1].isascii():
        tokens = before.rsplit(None, _EN_WINDOW)[-_EN_WINDOW:]  # rsplit: a long clause costs no more
        negated = any(t in _WORD_NEGATORS or t.endswith("n't") for t in tokens)
    else:
        negated = any(ch in _ZH_NEGATORS for ch in before[-_ZH_WINDOW:])
    return negated and not _indignant_question(text, clause_start, start, clause_ends, i)


def _indignant_question(text: str, clause_start: int, start: int, clause_ends: list[int], i: int) -> bool:
    """A negator in a question asks for agreement ("Isn't that ridiculous?", 这不是坑人吗): not a negation."""
    before = text[max(clause_start, start - _QUESTION_REACH):start]  # bounded: a long clause costs no more
    if any(w in before for w in _RHETORICAL):
        return True
    clause_end = clause_ends[i] if i < len(clause_ends) else len(text)
    return _QUESTION_END.search(text, start, min(len(text), clause_end + 1, start + _QUESTION_REACH)) is not None


class CueMatcher:
    """Finds cue hits for one speaker's utterances across every language of a pack."""

    def __init__(self, cues: Mapping[str, Iterable[CuePatterns]], negatable: frozenset[str]):
        self._negatable = negatable
        by_phrase: dict[tuple[str, bool], dict[str, float]] = {}  # (phrase, is a stem) → cue → weight (largest)
        regexes: list[tuple[str, re.Pattern[str]]] = []
        for cue, patterns in cues.items():
            for pat in patterns:
                weights = dict(pat.weights)
                for phrase in (*pat.phrases, *weights):
                    stem = phrase.endswith(STEM)
                    of_phrase = by_phrase.setdefault((phrase.rstrip(STEM) if stem else phrase, stem), {})
                    of_phrase[cue] = max(of_phrase.get(cue, 0.0), weights.get(phrase, 1.0))
                regexes.extend((cue, re.compile(rx)) for rx in pat.regexes)
        # one automaton key per text; a stem and a whole word of the same text are told apart after a match
        entries: dict[str, list[tuple[tuple[tuple[str, float], ...], bool]]] = {}
        for (phrase, stem), named in by_phrase.items():
            entries.setdefault(phrase, []).append((tuple(named.items()), stem))
        self._automaton = ahocorasick.Automaton()
        for phrase, variants in entries.items():
            left = _is_word_char(phrase[0])
            right = _is_word_char(phrase[-1])
            self._automaton.add_word(phrase, (tuple(variants), len(phrase), left, right))
        self._has_phrases = bool(entries)
        if self._has_phrases:
            self._automaton.make_automaton()
        # a regex written for Han (or Cyrillic) text is only tried on text with Han (Cyrillic) characters
        han = [(c, rx) for c, rx in regexes if has_cjk(rx.pattern)]
        cyrillic = [(c, rx) for c, rx in regexes if has_cyrillic(rx.pattern) and not has_cjk(rx.pattern)]
        latin = [(c, rx) for c, rx in regexes if not has_cjk(rx.pattern) and not has_cyrillic(rx.pattern)]
        self._regexes = (*han, *cyrillic, *latin)  # bit i of a mask below stands for regex i
        self._han_mask = (1 << len(han)) - 1
        self._cyrillic_mask = ((1 << len(cyrillic)) - 1) << len(han)
        self._latin_mask = ((1 << len(latin)) - 1) << (len(han) + len(cyrillic))
        self._gate = RegexGate([rx.pattern for _, rx in self._regexes])

    @property
    def regex_patterns(self) -> tuple[str, ...]:
        return tuple(rx.pattern for _, rx in self._regexes)

    def match(self, text: str) -> list[CueHit]:
        """Every cue hit in `text` (normalised), in order of position."""
        raw: list[CueHit] = []
        n = len(text)
        run_from = run_to = 0  # the word run last scanned for a stem's end
        if self._has_phrases:
            for end_idx, (variants, length, left, right) in self._automaton.iter(text):
                start = end_idx - length + 1
                end = end_idx + 1
                if left and start > 0 and _is_word_char(text[start - 1]):
                    continue
                inside_word = right and end < n and _is_word_char(text[end])
                for names, stem in variants:
                    if stem:  # the hit runs to the end of the word, so evidence quotes the form said
                        if not run_from <= end < run_to:  # one scan per word, not one per hit in it
                            run_from, run_to = end, end
                            while run_to < n and _is_word_char(text[run_to]):
                                run_to += 1
                        word_end = run_to if run_from <= end < run_to else end
                        raw.extend(CueHit(cue, text[start:word_end], start, word_end, weight)
                                   for cue, weight in names)
                    elif not inside_word:
                        raw.extend(CueHit(cue, text[start:end], start, end, weight) for cue, weight in names)
                if len(raw) >= _MAX_RAW:
                    break
        if self._regexes:
            self._match_regexes(text, raw)
        if not raw:
            return raw
        return self._filter(text, raw)

    def _match_regexes(self, text: str, raw: list[CueHit]) -> None:
        han = has_cjk(text)
        scripts = (self._han_mask if han else 0) | (
            self._cyrillic_mask if (not han and has_cyrillic(text)) else 0) | (
            self._latin_mask if (not han or _LATIN.search(text)) else 0)
        may_match = self._gate.candidates(text) & scripts if scripts else 0
        while may_match:  # the set bits, lowest (first regex) first
            lowest = may_match & -may_match
            may_match ^= lowest
            cue, rx = self._regexes[lowest.bit_length() - 1]
            for m in rx.finditer(text):
                if len(raw) >= _MAX_RAW:
                    break
                raw.append(CueHit(cue, m.group(0), m.start(), m.end()))

    def _filter(self, text: str, raw: list[CueHit]) -> list[CueHit]:
        """Drop quoted and negated hits; one hit per phrase inside a longer one of the same cue."""
        spans = _quote_spans(text) if _QUOTE_OPENING.search(text) else []
        span_starts = [a for a, _ in spans]
        ends = _clause_ends(text) if not self._negatable.isdisjoint([h.cue for h in raw]) else []
        kept = [
            h for h in raw
            if not (spans and _quoted(h.start, span_starts, spans))
            and not (h.cue in self._negatable and _negated(text, h.start, ends))
        ][:MAX_HITS]
        if len(kept) <= 1:
            return kept
        kept.sort(key=lambda h: (h.cue, h.start, -h.end))
        # a phrase inside a longer phrase of the same cue ("hurry" in "hurry up") is one hit, not two;
        # it keeps the larger weight ("furious" inside "so furious")
        distinct: list[CueHit] = []
        for h in kept:
            last = distinct[-1] if distinct else None
            if last is not None and last.cue == h.cue and h.start < last.end:
                if h.weight > last.weight:
                    distinct[-1] = CueHit(last.cue, last.text, last.start, last.end, h.weight)
                continue
            distinct.append(h)
        distinct.sort(key=lambda h: (h.start, h.cue))
        return distinct
