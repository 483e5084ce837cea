"""Which regular expressions lint refuses because their matching time can explode (ReDoS).

A repeat that can run more than once around something that can itself repeat without bound, as in
`(a+)+`, `(\\w+\\s?)*` or `(?:x|xy+)+`, makes the backtracking matcher try exponentially many ways to
split a long non-matching input ('a' * 24 + '!' took 1.1 s on `^(a+)+$`, doubling per character).
"""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-patterns directly inside one parsed item."""
    if op in _REPEATS:
        return [av[2]]
    if op == sre.SUBPATTERN:
        return [av[3]]
    if op == sre.BRANCH:
        return list(av[1])
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [av[1]]
    if op == getattr(sre, "ATOMIC_GROUP", None):
        return [av]
    if op == sre.GROUPREF_EXISTS:
        return [p for p in av[1:] if p is not None]
    return []


def _unbounded_repeat_inside(pattern: Any) -> bool:
    stack = [pattern]
    while stack:
        for op, av in stack.pop():
            if op in _REPEATS and av[1] == sre.MAXREPEAT:
                return True
            stack.extend(_children(op, av))
    return False


def nested_quantifier(rx: str) -> str | None:
    """A short description of the first repeat around an unbounded repeat in `rx`, or None."""
    try:
        parsed = sre_parse.parse(rx)
    except (re.error, OverflowError, RecursionError):
        return None  # reported as invalid elsewhere
    stack = [parsed]
    while stack:
        for op, av in stack.pop():
            if op in _REPEATS and av[1] > 1 and _unbounded_repeat_inside(av[2]):
                hi = "∞" if av[1] == sre.MAXREPEAT else av[1]
                return f"a repeat of up to {hi} around a repeat without bound"
            stack.extend(_children(op, av))
    return None
