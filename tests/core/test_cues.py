"""Cue matching on the real lexicons: what counts as the speaker saying a thing, and what does not."""

from __future__ import annotations

import pytest

from assist import CompiledRules, Engine
from assist.core.normalize import normalize


def cues(rules: CompiledRules, speaker: str, text: str) -> list[tuple[str, str]]:
    return [(h.cue, h.text) for h in rules.matchers[speaker].match(normalize(text))]


def cue_names(rules: CompiledRules, speaker: str, text: str) -> set[str]:
    return {cue for cue, _ in cues(rules, speaker, text)}


@pytest.mark.parametrize("text", [
    "I'm not angry, just asking.",
    "I'm not frustrated at all, I just want to know where my parcel is.",
    "I wasn't angry about it.",
    "我不生气，只是问问。",
    "我不是生气，只是想问一下。",
    "我没有生气。",
])
def test_a_negated_emotion_is_not_heard(rules, text):
    assert cue_names(rules, "customer", text).isdisjoint({"anger", "frustration"})


@pytest.mark.parametrize(("text", "cue"), [
    ("I am angry.", "anger"),
    ("I'm not happy about this.", "anger"),  # the negator inside the phrase is the phrase
    ("I'm not calling to complain, but this is ridiculous.", "anger"),  # 'but' starts a new clause
    ("No, I'm absolutely furious.", "anger"),  # the 'no' is its own clause
    ("我很生气。", "anger"),
    ("不是我说，这太离谱了！", "anger"),
])
def test_an_emotion_after_a_clause_break_or_without_negator_is_heard(rules, text, cue):
    assert cue in cue_names(rules, "customer", text)


@pytest.mark.parametrize("text", [
    'My son said "this is ridiculous" but I think it\'s fine.',
    "My neighbour called it “outrageous”, I just want it fixed.",
    "他们说「太离谱了」，我只是想问问进度。",
    "我朋友说“太过分了”，我就想确认一下。",
])
def test_words_in_quotation_marks_are_reported_speech(rules, text):
    assert "anger" not in cue_names(rules, "customer", text)


def test_a_quoted_line_from_the_customer_does_not_make_the_agent_blame(rules):
    names = cue_names(rules, "agent", 'Sorry, when you say "calm down", who said that to you?')
    assert "blame" not in names
    assert "apology" in names


@pytest.mark.parametrize("traditional", ["這也太離譜了", "我受夠了", "太過分了"])
def test_traditional_chinese_is_matched_by_the_simplified_lexicon(rules, traditional):
    assert "anger" in cue_names(rules, "customer", traditional)


def test_traditional_agent_phrases_are_matched(rules):
    assert "apology" in cue_names(rules, "agent", "對不起，讓您久等了。")
    assert "policy" in cue_names(rules, "agent", "這是公司規定。")


@pytest.mark.parametrize(("speaker", "text", "cue"), [
    ("agent", "I've updated our policyholders list.", "policy"),
    ("customer", "I'm hurrying home to meet the engineer.", "impatience"),
    ("customer", "The hurricane knocked the line out.", "impatience"),
    ("agent", "I'm sorryish.", "apology"),
])
def test_english_phrases_match_whole_words_only(rules, speaker, text, cue):
    assert cue not in cue_names(rules, speaker, text)


@pytest.mark.parametrize(("speaker", "text", "cue"), [
    ("agent", "It's our policy.", "policy"),
    ("customer", "Hurry, please.", "impatience"),
    ("agent", "Sorry!", "apology"),
])
def test_the_same_phrases_match_as_words(rules, speaker, text, cue):
    assert cue in cue_names(rules, speaker, text)


@pytest.mark.parametrize("text", ["We cannot change that.", "We can not change that.", "We can't change that.",
                                  "We CANNOT change that.", "We can’t change that."])
def test_cannot_in_every_spelling_is_the_same_cue(rules, text):
    assert ("cant", "we can't change") in cues(rules, "agent", text)


@pytest.mark.parametrize("text", ["I will not accept this.", "I won't accept this.", "I WILL NOT accept this."])
def test_will_not_and_wont_are_the_same_cue(rules, text):
    assert ("demand", "i won't accept") in cues(rules, "customer", text)


def test_will_not_be_able_to_is_a_cant(rules):
    assert "cant" in cue_names(rules, "agent", "We will not be able to refund that.")


def test_overlapping_phrases_of_one_cue_are_one_hit(rules):
    assert cues(rules, "customer", "Hurry up please.") == [("impatience", "hurry up")]


def test_overlapping_phrases_of_one_cue_count_once_for_the_customer_type(rules):
    # 'hurry' and 'hurry up' are both impatience phrases; counted twice the score (0.75) would cross 0.6
    weight = rules.types["impatient"]["impatience"]
    engine = Engine(rules)
    try:
        engine.feed({"type": "call.start", "call_id": "h", "lang": "en", "t_ms": 0})
        outputs = engine.feed({"type": "utterance", "call_id": "h", "speaker": "customer",
                               "text": "Hurry up please.", "start_ms": 0, "end_ms": 1000})
        assert [o.kind for o in outputs] == []
        view = engine.view("h")
        assert view is not None and view.types["impatient"] == pytest.approx(weight, abs=0.005)
    finally:
        engine.close()


def test_distinct_phrases_of_one_cue_in_one_turn_add_up(rules):
    engine = Engine(rules)
    try:
        engine.feed({"type": "call.start", "call_id": "h", "lang": "en", "t_ms": 0})
        outputs = engine.feed({"type": "utterance", "call_id": "h", "speaker": "customer",
                               "text": "Hurry up, I'm in a rush.", "start_ms": 0, "end_ms": 1000})
        assert [o.kind for o in outputs][:1] == ["classification"]
        assert outputs.call.top == "impatient"
    finally:
        engine.close()


def test_customer_cues_are_not_heard_from_the_agent(rules):
    assert "anger" not in cue_names(rules, "agent", "That's ridiculous, I agree.")
    assert "apology" not in cue_names(rules, "customer", "Sorry, I didn't catch that.")


def test_a_powerless_line_is_not_an_alternative(rules):
    assert "alternative" not in cue_names(rules, "agent", "It's company policy, there's nothing I can do.")
