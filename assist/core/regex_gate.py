"""Which of a pack's cue regexes can match a text, found in one pass instead of running each one.

Most utterances match none of the regexes, yet Python's `re` scans the whole text once per regex (a
pattern starting with ``\\b(?:…)`` has no literal prefix to jump to): 10 µs of an utterance's ~20 µs
of matching on the bench. Every match of ``\\b(?:by|before|at) \\d`` contains "by ", "before " or
"at ": such necessary literals, read off the parsed pattern, go into one Aho-Corasick automaton, and a
regex runs only on a text holding one of its literals. The answer is the same as running every regex
(a match contains its literal, so a text without it has no match); a regex with no literal to find
(``\\w+``, a case-insensitive one) always runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import ahocorasick

_MAX_STRINGS = 64  # a set of alternatives grows by product along a sequence; past this, stop growing it
_MAX_CLASS = 16    # a character class of at most this many characters counts as alternatives
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}
_ZERO_WIDTH = {sre.AT, sre.ASSERT, sre.ASSERT_NOT}

Strings = frozenset[str]


def _usable(strings: Strings | None) -> Strings | None:
    """A set one of whose strings must occur is a constraint only if none of them is empty."""
    return strings if strings and "" not in strings else None


class _Info:
    """What a piece of pattern says about the text it matches: `exact`, the only strings it can match
    (None: too many or unknown), and `needed`, strings one of which every match contains (None: none known)."""

    __slots__ = ("exact", "needed")

    def __init__(self, exact: Strings | None, needed: Strings | None = None):
        self.exact = exact
        self.needed = needed if needed is not None else _usable(exact)


_NOTHING = _Info(None, None)
_EMPTY = _Info(frozenset({""}))


def _better(a: Strings | None, b: Strings | None) -> Strings | None:
    """The more selective of two necessary sets: longer shortest string, then fewer strings."""
    if a is None or b is None:
        return a or b
    key_a, key_b = (min(map(len, a)), -len(a)), (min(map(len, b)), -len(b))
    return a if key_a >= key_b else b


def _product(a: Strings, b: Strings) -> Strings | None:
    if len(a) * len(b) > _MAX_STRINGS:
        return None
    return frozenset(x + y for x in a for y in b)


def _char_class(items: Sequence[tuple[Any, Any]]) -> _Info:
    chars: set[str] = set()
    for op, av in items:
        if op == sre.LITERAL:
            chars.add(chr(av))
        elif op == sre.RANGE and av[1] - av[0] < _MAX_CLASS:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:  # NEGATE, a category (\d, \s, \w), a wide range
            return _NOTHING
    return _Info(frozenset(chars)) if len(chars) <= _MAX_CLASS else _NOTHING


def _repeat(low: int, high: int, sub: _Info) -> _Info:
    if sub.exact is not None and high == low and low <= 4:
        exact: Strings | None = frozenset({""})
        for _ in range(low):
            exact = _product(exact, sub.exact) if exact is not None else None
        if exact is not None:
            return _Info(exact)
    if sub.exact is not None and low == 0 and high == 1:
        return _Info(sub.exact | {""})
    return _Info(None, sub.needed if low >= 1 else None)


def _item(op: Any, av: Any) -> _Info:
    if op == sre.LITERAL:
        return _Info(frozenset({chr(av)}))
    if op in _ZERO_WIDTH:
        return _EMPTY  # consumes nothing: what it asserts does not change what the match holds
    if op == sre.IN:
        return _char_class(av)
    if op == sre.SUBPATTERN:
        _, add_flags, _, sub = av
        return _NOTHING if add_flags & re.IGNORECASE else _sequence(sub)
    if op == getattr(sre, "ATOMIC_GROUP", None):
        return _sequence(av)
    if op == sre.BRANCH:
        return _branch([_sequence(alt) for alt in av[1]])
    if op in _REPEATS:
        return _repeat(av[0], av[1], _sequence(av[2]))
    return _NOTHING  # any character, a category, a back-reference, a conditional group


def _branch(alts: list[_Info]) -> _Info:
    exact: Strings | None = frozenset()
    needed: Strings | None = frozenset()
    for alt in alts:
        exact = exact | alt.exact if exact is not None and alt.exact is not None else None
        needed = needed | alt.needed if needed is not None and alt.needed is not None else None
    if exact is not None and len(exact) > _MAX_STRINGS:
        exact = None
    return _Info(exact, needed if needed else None)


def _sequence(items: Iterable[tuple[Any, Any]]) -> _Info:
    """Runs of consecutive exact pieces are joined (by product); the best necessary set of the whole
    is the best of the runs' and of the other pieces'."""
    run: Strings | None = frozenset({""})
    whole_exact = True
    best: Strings | None = None
    for op, av in items:
        info = _item(op, av)
        joined = _product(run, info.exact) if run is not None and info.exact is not None else None
        if joined is not None:
            run = joined
            continue
        whole_exact = False
        best = _better(best, _usable(run))
        best = _better(best, info.needed)
        run = info.exact
    best = _better(best, _usable(run))
    return _Info(run if whole_exact else None, best)


def required_literals(pattern: str) -> Strings | None:
    """Strings one of which occurs in every match of `pattern` (None when nothing is known)."""
    try:
        parsed = sre_parse.parse(pattern)
        if parsed.state.flags & re.IGNORECASE:
            return None
        return _sequence(parsed).needed
    except (re.error, OverflowError, RecursionError):
        return None


class RegexGate:
    """For a list of regexes: which of them can match a given text (the rest cannot)."""

    def __init__(self, patterns: Sequence[str]):
        self._always = 0  # bit i: regex i has no literal to look for
        by_literal: dict[str, int] = {}
        for i, pattern in enumerate(patterns):
            literals = required_literals(pattern)
            if literals is None:
                self._always |= 1 << i
                continue
            for lit in literals:
                by_literal[lit] = by_literal.get(lit, 0) | 1 << i
        self._automaton = ahocorasick.Automaton()
        for lit, bits in by_literal.items():
            self._automaton.add_word(lit, bits)
        self._has_literals = bool(by_literal)
        if self._has_literals:
            self._automaton.make_automaton()

    def candidates(self, text: str) -> int:
        """A bit set: bit i is set when regex i may match `text`."""
        bits = self._always
        if self._has_literals:
            for _, found in self._automaton.iter(text):
                bits |= found
        return bits
