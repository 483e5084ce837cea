"""Rule packs built to hurt (issue 12, finding 11): deep nesting and catastrophic regexes are
refused with file:line, never a crash or a regex that costs seconds per utterance."""

from __future__ import annotations

import pytest

from assist import RulePackError, load_rules

LEX = "lexicon/en.yaml"


def problems_of(pack) -> list[str]:
    with pytest.raises(RulePackError) as info:
        load_rules(pack.root)
    return info.value.problems


def test_five_thousand_nested_block_mappings_are_refused_not_a_recursion_error(write_pack):
    deep = "".join(f"{'  ' * i}k{i}:\n" for i in range(5000)) + "  " * 5000 + "v: 1\n"
    pack = write_pack(extra={"rules/deep.yaml": deep})
    problems = problems_of(pack)
    assert any(p.startswith("mini/rules/deep.yaml:") for p in problems), problems


@pytest.mark.parametrize("rx", ["^(a+)+$", "(a*)*b", "(?:x|xy+)+z", "(\\w+\\s?)+$", "((ab)*c?)+d"])
def test_a_regex_with_nested_quantifiers_is_refused(write_pack, rx):
    pack = write_pack({LEX: ("apology: {phrases: [sorry]}", f"apology: {{phrases: [sorry], regex: ['{rx}']}}")})
    (problem,) = problems_of(pack)
    assert problem.startswith(f"mini/{LEX}:{pack.line(LEX, 'regex')}: field 'cues.apology.regex[0]': ")
    assert "nested" in problem


@pytest.mark.parametrize("rx", ["(?:so+ )?sorry", "apolog(?:ise|ize)s?", "(ab)+c", "[a-z]+ (?:now|today)"])
def test_ordinary_regexes_still_pass(write_pack, rx):
    pack = write_pack({LEX: ("apology: {phrases: [sorry]}", f"apology: {{phrases: [sorry], regex: ['{rx}']}}")})
    load_rules(pack.root)
