"""What real customers say, on the bundled playbook: strong self-reports, indignant questions, scores that
fade once the customer calms down, and no coaching on the agent's opening greeting."""

from __future__ import annotations

from typing import Any

import pytest

from assist import Classification, CompiledRules, Prompt
from assist.core.normalize import normalize


def tops(outputs: list[object]) -> list[str | None]:
    return [o.top for o in outputs if isinstance(o, Classification)]


def rules_of(outputs: list[object]) -> list[str]:
    return [o.rule for o in outputs if isinstance(o, Prompt)]


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "气死我了，这已经是第三次了！"),
    ("zh-TW", "我真的氣到不行，這已經是第三次了！"),
    ("en", "I'm absolutely livid, this is the third time."),
])
def test_one_strong_self_report_and_one_supporting_cue_classify_the_customer_angry(
        call: Any, new_call: object, lang: str, text: str) -> None:
    c = new_call("c2", lang=lang)  # type: ignore[operator]
    out = c.customer(text)
    assert tops(out) == ["angry"]
    assert "tip-angry" in rules_of(out)


@pytest.mark.parametrize("text", [
    "Isn't that ridiculous?",
    "这不是欺负人吗？",
    "難道這不是坑人嗎？",
])
def test_a_negator_in_an_indignant_question_does_not_cancel_the_cue(rules: CompiledRules, text: str) -> None:
    assert "anger" in {h.cue for h in rules.matchers["customer"].match(normalize(text))}


@pytest.mark.parametrize("text", ["I'm not angry, just asking.", "我不生气，只是问问。"])
def test_a_plain_negation_still_cancels_it(rules: CompiledRules, text: str) -> None:
    assert "anger" not in {h.cue for h in rules.matchers["customer"].match(normalize(text))}


def test_an_angry_customer_who_calms_down_is_no_longer_shown_as_angry(call: Any) -> None:
    assert tops(call.customer("This is outrageous, I'm furious!", at=5_000)) == ["angry"]
    call.agent("I can hear how frustrating this has been. Let me fix it now.", at=10_000)
    # calm turns within a minute of the outburst: still angry
    assert tops(call.customer("Okay, thank you.", at=40_000)) == []
    # three minutes on, nothing new: the score has faded below the threshold, by event time alone
    out = call.customer("That's great, thanks for sorting it.", at=200_000)
    assert tops(out) == [None]
    summary = call.end()
    assert summary.top is None and summary.types["angry"] < 0.6


def test_the_sidebar_shows_the_score_held_then_fading_on_the_agents_turns_too(call: Any) -> None:
    call.customer("This is outrageous, I'm furious!", at=5_000)
    held = [call.agent(text, at=at).call.types["angry"] for text, at in
            (("I understand.", 20_000), ("Let me look.", 60_000))]
    faded = call.agent("Here is what I found.", at=200_000).call.types["angry"]
    assert held[0] == held[1] >= 0.6 > faded


def test_a_trait_does_not_fade(call: Any) -> None:
    call.customer("I'm 82 and I live alone, I'm scared of getting this wrong.", at=5_000)
    call.agent("Take your time, we'll go step by step.", at=10_000)
    out = call.customer("Thank you, dear.", at=400_000)
    assert tops(out) == []
    assert call.end().top == "vulnerable"


def test_a_faded_type_is_raised_again_when_the_anger_comes_back(call: Any) -> None:
    assert "tip-angry" in rules_of(call.customer("This is outrageous, I'm furious!", at=5_000))
    call.customer("Fine, thanks.", at=300_000)
    again = call.customer("It's broken AGAIN, I'm absolutely livid!", at=1_000_000)
    assert tops(again) == ["angry"] and "tip-angry" in rules_of(again)


@pytest.mark.parametrize(("lang", "greeting", "reply"), [
    ("en", "Thanks for calling Acme Broadband, how can I help?", "Hi, I'd like to check my last bill."),
    ("zh", "感谢您的来电，请问有什么可以帮您？", "你好，我想查一下上个月的账单。"),
    ("zh-TW", "感謝您的來電，請問有什麼可以幫您？", "你好，我想查一下上個月的帳單。"),
])
def test_the_opening_greeting_raises_nothing(new_call: object, lang: str, greeting: str, reply: str) -> None:
    c = new_call("g", lang=lang)  # type: ignore[operator]
    assert c.agent(greeting) == []
    assert rules_of(c.customer(reply)) == []


def test_nothing_is_raised_before_the_customer_speaks_but_the_same_words_later_are(call: Any) -> None:
    assert call.agent("Calm down, it's company policy.") == []
    call.customer("Hello, it's about my bill.")
    assert "no-blame" in rules_of(call.agent("Calm down, it's company policy."))


def test_thanks_for_calling_still_closes_a_call(call: Any) -> None:
    call.customer("Thanks, that's sorted then.")
    assert "check-satisfaction" in rules_of(call.agent("Thanks for calling, bye."))
