"""Loading and checking rule packs: every problem names file:line, the rule and the field."""

from __future__ import annotations

import pytest

from assist import Engine, Prompt, RulePackError, load_rules

RULE = "rules/ack-first.yaml"


def problems_of(pack) -> list[str]:
    with pytest.raises(RulePackError) as err:
        load_rules(pack.root)
    return err.value.problems


def test_a_valid_pack_loads_and_its_rule_fires(write_pack):
    rules = load_rules(write_pack().root)
    assert list(rules.rules) == ["ack-first"]
    engine = Engine(rules)
    try:
        engine.feed({"type": "call.start", "call_id": "c", "lang": "en", "t_ms": 0})
        engine.feed({"type": "utterance", "call_id": "c", "speaker": "customer", "text": "I'm angry!",
                     "start_ms": 0, "end_ms": 900})
        (prompt,) = engine.feed({"type": "utterance", "call_id": "c", "speaker": "agent", "text": "Sorry.",
                                 "start_ms": 1000, "end_ms": 1500})
        assert isinstance(prompt, Prompt)
        assert (prompt.rule, prompt.say, prompt.why) == ("ack-first", "Name the feeling first.",
                                                         'Apology ("Sorry") before acknowledging')
    finally:
        engine.close()


def test_on_is_a_key_and_no_is_a_phrase_not_yaml_1_1_booleans(write_pack):
    rules = load_rules(write_pack().root)
    assert rules.rules["ack-first"].on == "agent"  # YAML 1.1 would read the key `on` as True
    hits = rules.matchers["agent"].match("no, that's off the table")
    assert [h.text for h in hits] == ["no", "off"]  # and `no`/`off` as False


def test_on_with_each_allowed_value_loads(write_pack):
    pack = write_pack({RULE: ("on: agent", "on: any")})
    assert load_rules(pack.root).rules["ack-first"].on == "any"


def test_unknown_cue_in_when_all(write_pack):
    pack = write_pack({RULE: ("all: [apology]", "all: [apology, rage]")})
    line = pack.line(RULE, "all: [apology, rage]")
    assert problems_of(pack) == [
        f"mini/{RULE}:{line}: rule 'ack-first': field 'when.all[1]': unknown cue 'rage'"]


def test_missing_say_in_a_pack_language(write_pack):
    pack = write_pack({RULE: ("  zh: 先认可情绪。\n", "")})
    (problem,) = problems_of(pack)
    assert problem.startswith(f"mini/{RULE}:{pack.line(RULE, 'say:')}: rule 'ack-first': field 'say.zh': missing")


def test_bad_severity(write_pack):
    pack = write_pack({RULE: ("severity: warn", "severity: critical")})
    (problem,) = problems_of(pack)
    assert problem.startswith(f"mini/{RULE}:{pack.line(RULE, 'severity')}: rule 'ack-first': field 'severity': ")
    assert "'info', 'warn' or 'urgent'" in problem
    assert "got 'critical'" in problem


def test_missing_on_names_the_field(write_pack):
    pack = write_pack({RULE: ("on: agent\n", "")})
    (problem,) = problems_of(pack)
    assert "rule 'ack-first': field 'on': Field required" in problem


def test_invalid_regex_in_a_lexicon(write_pack):
    lex = "lexicon/en.yaml"
    pack = write_pack({lex: ("apology: {phrases: [sorry]}", "apology: {phrases: [sorry], regex: ['apolog(ise']}")})
    (problem,) = problems_of(pack)
    assert problem.startswith(f"mini/{lex}:{pack.line(lex, 'apolog(')}: field 'cues.apology.regex[0]': "
                              "invalid regular expression")


def test_lexicon_cue_not_declared_in_the_pack(write_pack):
    lex = "lexicon/zh.yaml"
    undeclared = "  refusal: {phrases: [不行]}\n  sarcasm: {phrases: [呵呵]}"
    pack = write_pack({lex: ("  refusal: {phrases: [不行]}", undeclared)})
    assert problems_of(pack) == [
        f"mini/{lex}:{pack.line(lex, 'sarcasm')}: field 'cues.sarcasm': cue not declared in any pack.yaml"]


def test_invalid_yaml(write_pack):
    pack = write_pack({RULE: ("title: Acknowledge before apologising", "title: [unclosed")})
    (problem,) = problems_of(pack)
    assert problem.startswith(f"mini/{RULE}:")
    assert "invalid YAML" in problem


def test_every_problem_is_reported_at_once(write_pack):
    pack = write_pack({RULE: ("severity: warn", "severity: critical")},
                      extra={"rules/second.yaml": "id: Bad Id\ntitle: x\n"})
    problems = problems_of(pack)
    assert len(problems) >= 3
    assert any("rule 'ack-first': field 'severity'" in p for p in problems)
    assert any(p.startswith("mini/rules/second.yaml:1: rule 'Bad Id': field 'id'") for p in problems)


def test_a_directory_without_packs_is_an_error(tmp_path):
    with pytest.raises(RulePackError, match="expected a pack directory"):
        load_rules(tmp_path)


def test_packs_that_disagree_on_settings_are_refused_naming_the_pack_and_field(write_pack):
    pack = write_pack()
    for name, text in pack.files.items():
        if name == "pack.yaml":
            text = text.replace("id: mini", "id: other") + "settings: {max_open_prompts: 5}\n"
        path = pack.root / "other" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    settings = [p for p in problems_of(pack) if "field 'settings'" in p]
    assert len(settings) == 1
    assert "other/pack.yaml:" in settings[0] and "'max_open_prompts': 5" in settings[0]
