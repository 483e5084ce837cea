"""The regex gate: a cue regex is skipped only on text where it cannot match, so every regex cue is
heard exactly as if each regex ran on every utterance."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assist import load_rules
from assist.bench.workload import corpus
from assist.bundle import DEFAULT_RULES
from assist.core.compiled import CompiledRules
from assist.core.normalize import normalize
from assist.core.regex_gate import RegexGate, required_literals

RULES: CompiledRules = load_rules()
PATTERNS = sorted({p for m in RULES.matchers.values() for p in m.regex_patterns})


@pytest.mark.parametrize(("pattern", "literals"), [
    (r"\b(?:by|before|at) \d{1,2} ?(?:am|pm)\b", {"by ", "before ", "at "}),
    (r"(?<!\bне )(?:мога|можем) да", {"мога да", "можем да"}),
    (r"\byou must have (?!(?:been|had)\b)\w+", {"you must have "}),
    (r"[?？]\s*$", {"?", "？"}),
    (r"(?:感谢|谢谢)(?:您的?)?来电", {f"{a}{b}来电" for a in ("感谢", "谢谢") for b in ("", "您", "您的")}),
    (r"\d+ (?:days?|weeks?)", {" day", " days", " week", " weeks"}),
])
def test_the_literals_every_match_holds(pattern, literals):
    assert required_literals(pattern) == literals


@pytest.mark.parametrize(("pattern", "literals"), [(r"\w+ing", {"ing"}), (r"(a)\1", {"a"}), (r"a+b{2}", {"bb"})])
def test_the_literals_of_repeats_and_groups(pattern, literals):
    assert required_literals(pattern) == literals


@pytest.mark.parametrize("pattern", [r"\w+", r"(?i)refund", r"(?i:refund) now|\d+", r"x*y?", r"[^a]+", "."])
def test_no_literal_is_claimed_where_none_is_certain(pattern):
    assert required_literals(pattern) is None


def _utterances() -> list[str]:
    return [normalize(text) for _, _, text in corpus(DEFAULT_RULES)]


GATE = RegexGate(PATTERNS)
COMPILED = [re.compile(p) for p in PATTERNS]


def _gate_misses(text: str) -> list[str]:
    """Patterns that match `text` although the gate says they cannot."""
    may_match = GATE.candidates(text)
    return [rx.pattern for i, rx in enumerate(COMPILED) if not may_match >> i & 1 and rx.search(text)]


def test_the_gate_lets_through_every_regex_that_matches_a_rule_case():
    texts = _utterances()
    assert sum(1 for t in texts if any(rx.search(t) for rx in COMPILED)) > 100  # the cases do exercise them
    assert [(t, missed) for t in texts if (missed := _gate_misses(t))] == []


# pieces of the pack's own regex literals, glued with digits, spaces and marks: texts that come near matches
_PIECES = sorted({lit[i:i + n] for p in PATTERNS for lit in required_literals(p) or () for n in (1, 3, 8)
                  for i in range(0, len(lit), n)} | {" ", "1", "24", "?", "。", "не ", "thank you "})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_the_gate_never_hides_a_match(text):
    assert _gate_misses(text) == []
