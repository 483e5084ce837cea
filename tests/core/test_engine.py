"""Engine behaviour a user of `Engine(load_rules()).feed(...)` sees, on the real playbook pack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assist import (
    DEFAULT_RULES,
    CapacityError,
    Classification,
    CompiledRules,
    Engine,
    EventError,
    Evidence,
    Expired,
    Output,
    Prompt,
    Resolved,
)
from assist.core.normalize import to_traditional
from assist.formats import ReadOptions, read_file
from assist.replay import Step, replay

EXAMPLES = sorted(p for p in (DEFAULT_RULES.parent / "examples").iterdir()
                  if p.suffix in {".jsonl", ".txt"})

HELLO = "Hello, it's about my bill."
ANGRY = "This is ridiculous, I've been waiting two weeks for a refund!"
ANGRY_ZH = "你们这是推卸责任，太过分了！"


def of_rule(outputs: list[Output], rule: str) -> list[Output]:
    return [o for o in outputs if getattr(o, "rule", None) == rule]


def kinds(outputs: list[Output]) -> list[tuple[str, str]]:
    return [(o.kind, getattr(o, "rule", "")) for o in outputs]


# -- acknowledge before apology --------------------------------------------------------------------
def test_apology_before_acknowledging_raises_a_prompt_with_the_customers_words_as_evidence(call, rules):
    call.customer(ANGRY)
    outputs = call.agent("I'm sorry about that. Can I have your order number?")

    (prompt,) = of_rule(outputs, "acknowledge-before-apology")
    assert isinstance(prompt, Prompt)
    assert prompt.severity == "warn"
    assert prompt.say == rules.rules["acknowledge-before-apology"].say["en"]
    assert prompt.say.startswith("Name the feeling first")
    assert '"sorry"' in prompt.why
    assert Evidence("customer", ANGRY, 2000) in prompt.evidence
    assert prompt.evidence[-1].text == "I'm sorry about that. Can I have your order number?"
    assert prompt.id.startswith("c1:")


@pytest.mark.parametrize(("lang", "in_script", "not_in_script"), [
    ("zh", "先认可情绪再道歉", "認可"),
    ("zh-CN", "先认可情绪再道歉", "認可"),
    ("zh-TW", "先認可情緒再道歉", "认可"),
    ("zh-HK", "先認可情緒再道歉", "认可"),
])
def test_chinese_calls_get_the_prompt_in_their_script(engine, new_call, lang, in_script, not_in_script):
    call = new_call("zh1", lang=lang)
    call.customer(ANGRY_ZH)
    (prompt,) = of_rule(call.agent("对不起。"), "acknowledge-before-apology")
    assert in_script in prompt.say
    assert not_in_script not in prompt.say
    assert Evidence("customer", ANGRY_ZH, 2000) in prompt.evidence


def test_traditional_prompt_is_the_simplified_one_converted(new_call, rules):
    call = new_call("tw", lang="zh-TW")
    call.customer("這也太離譜了，我受夠了！")  # Traditional input is matched by the Simplified lexicon
    (prompt,) = of_rule(call.agent("對不起。"), "acknowledge-before-apology")
    assert prompt.say == to_traditional(rules.rules["acknowledge-before-apology"].say["zh"])
    assert "對不起" in prompt.why  # the why is in Traditional too


def test_acknowledging_after_the_prompt_resolves_it(call):
    call.customer(ANGRY)
    (prompt,) = of_rule(call.agent("I'm sorry about that."), "acknowledge-before-apology")

    outputs = call.agent("I can hear how frustrating this has been.")

    resolved = [o for o in outputs if isinstance(o, Resolved) and o.id == prompt.id]
    assert len(resolved) == 1
    assert resolved[0].rule == "acknowledge-before-apology"
    assert resolved[0].by == Evidence("agent", "I can hear how frustrating this has been.", call.t)
    assert resolved[0].to_dict()["kind"] == "resolved"


def test_acknowledging_first_then_apologising_raises_nothing(call):
    call.customer(ANGRY)
    outputs = call.agent("I can hear how frustrating two weeks of waiting has been. I'm sorry.")
    assert of_rule(outputs, "acknowledge-before-apology") == []


def test_apology_without_any_emotion_from_the_customer_raises_nothing(call):
    call.customer("Hi, I'd like to change my delivery address please.")
    assert of_rule(call.agent("Sorry, could you repeat the postcode?"), "acknowledge-before-apology") == []


# -- classification ----------------------------------------------------------------------------------
def test_classification_is_emitted_when_the_top_type_changes_with_its_evidence(call):
    (first,) = [o for o in call.customer(ANGRY) if isinstance(o, Classification)]
    assert first.top == "angry"
    assert first.types["angry"] >= 0.6
    assert [e.text for e in first.evidence] == [ANGRY]

    # still angry: scores move, the top type does not, so no new classification
    assert not [o for o in call.customer("I'm fed up with this.") if isinstance(o, Classification)]

    call.customer("Hurry up, I don't have time.")
    outputs = call.customer("Come on, just tell me, I'm in a rush.")
    (second,) = [o for o in outputs if isinstance(o, Classification)]
    assert second.top == "impatient"
    assert [e.text for e in second.evidence] == ["Hurry up, I don't have time.",
                                                 "Come on, just tell me, I'm in a rush."]
    assert next(iter(second.types)) == "impatient"  # types are listed best first


def test_a_type_crossing_the_threshold_raises_its_tip(call):
    outputs = call.customer(ANGRY)
    (tip,) = of_rule(outputs, "tip-angry")
    assert isinstance(tip, Prompt)
    assert "angry" in tip.say.lower()
    assert kinds(outputs).index(("classification", "")) < kinds(outputs).index(("prompt", "tip-angry"))


# -- summary -----------------------------------------------------------------------------------------
def test_summary_at_call_end_counts_prompts_and_fills_the_checklist(call):
    call.customer(ANGRY)
    call.agent("I'm sorry about that.")
    call.agent("I can hear how frustrating this has been.")
    call.agent("To recap, you'll receive the refund within 3 working days. Does that work for you?")
    summary = call.end()

    assert summary.call_id == "c1"
    assert summary.top == "angry"
    assert summary.prompts["acknowledge-before-apology"] == 1
    assert summary.resolved["acknowledge-before-apology"] == 1
    assert summary.utterances == 4
    assert summary.checklist == {"acknowledged_emotion": True, "paraphrased": False,
                                 "summarized_with_time": True, "checked_satisfaction": True}
    assert call.engine.open_calls == []


def test_checklist_item_that_does_not_apply_is_none(call):
    call.customer("Hi, I'd like to update my address.")
    summary = call.end()
    assert summary.checklist["acknowledged_emotion"] is None  # no emotion, nothing to acknowledge
    assert summary.prompts == {}
    assert summary.top is None


# -- cooldown, capacity, expiry ----------------------------------------------------------------------
def test_the_same_rule_is_not_raised_again_within_its_cooldown(call, rules):
    cooldown = rules.rules["no-blame"].cooldown_ms
    call.customer(HELLO, at=1000)  # prompts wait until the customer has spoken
    (first,) = of_rule(call.agent("Calm down.", at=2000), "no-blame")
    assert of_rule(call.agent("I'm sorry, let me sort it.", at=4000), "no-blame")[0].kind == "resolved"

    assert of_rule(call.agent("Calm down.", at=2000 + cooldown - 1), "no-blame") == []
    (again,) = of_rule(call.agent("Calm down.", at=2000 + cooldown + 1), "no-blame")
    assert again.kind == "prompt"
    assert again.id != first.id
    assert call.end().prompts["no-blame"] == 2


def test_an_open_prompt_is_not_raised_twice(call):
    call.customer(HELLO, at=1000)  # prompts wait until the customer has spoken
    assert len(of_rule(call.agent("Calm down."), "no-blame")) == 1
    assert of_rule(call.agent("Calm down, listen to me."), "no-blame") == []


def _three_warnings(call) -> list[Prompt]:
    call.customer(HELLO, at=1000)  # prompts wait until the customer has spoken
    out = call.agent("It's company policy.")           # avoid-policy, warn
    out += call.agent("Honestly it's out of my hands.")  # avoid-powerless, warn
    out += call.agent("That's not covered.")            # dont-preempt, warn
    raised = [o for o in out if isinstance(o, Prompt)]
    assert [(p.rule, p.severity) for p in raised] == [
        ("avoid-policy", "warn"), ("avoid-powerless", "warn"), ("dont-preempt", "warn")]
    return raised


def test_when_prompts_are_full_a_less_severe_one_is_not_raised(call, rules):
    assert rules.settings.max_open_prompts == 3
    _three_warnings(call)
    assert call.agent("We can't change that.") == []  # offer-alternative (info) would be a fourth
    assert len(call.engine.view("c1").prompts) == 3


def test_when_prompts_are_full_a_more_severe_one_supersedes_the_weakest_oldest(call):
    policy, _, _ = _three_warnings(call)
    outputs = call.agent("Calm down.")
    assert kinds(outputs) == [("expired", "avoid-policy"), ("prompt", "no-blame")]
    expired = outputs[0]
    assert isinstance(expired, Expired)
    assert (expired.id, expired.reason) == (policy.id, "superseded")
    assert sorted(p.rule for p in outputs.call.prompts) == ["avoid-powerless", "dont-preempt", "no-blame"]


def test_a_prompt_expires_on_a_tick_once_its_time_is_up(call, rules):
    expire = rules.rules["no-blame"].expire_ms
    assert expire is not None
    call.customer(HELLO, at=1000)  # prompts wait until the customer has spoken
    (prompt,) = of_rule(call.agent("Calm down.", at=2000), "no-blame")
    assert of_rule(call.tick(2000 + expire - 1), "no-blame") == []
    (expired,) = of_rule(call.tick(2000 + expire), "no-blame")
    assert isinstance(expired, Expired)
    assert (expired.id, expired.rule, expired.reason) == (prompt.id, "no-blame", "timeout")
    assert of_rule(call.tick(2000 + expire + 10_000), "no-blame") == []


def test_partial_utterances_raise_nothing_and_are_not_counted(call):
    assert call.customer(ANGRY, final=False) == []
    assert call.agent("I'm sorry about that.", final=False) == []
    assert call.engine.view("c1").types == {}
    assert call.end().utterances == 0


# -- bad input and limits ----------------------------------------------------------------------------
def test_an_utterance_for_an_unknown_call_is_refused_naming_the_call_id(engine):
    with pytest.raises(EventError, match="unknown call 'ghost'") as err:
        engine.feed({"type": "utterance", "call_id": "ghost", "speaker": "agent", "text": "hi",
                     "start_ms": 0, "end_ms": 1})
    assert err.value.field == "call_id"


def test_an_ended_call_is_unknown_afterwards(call):
    call.end()
    with pytest.raises(EventError) as err:
        call.agent("Hello?")
    assert err.value.field == "call_id"


def test_a_second_call_start_for_an_open_call_is_refused(call):
    with pytest.raises(EventError, match="already open") as err:
        call.engine.feed({"type": "call.start", "call_id": "c1", "t_ms": 5})
    assert err.value.field == "call_id"


@pytest.mark.parametrize(("change", "field"), [
    ({"start_ms": "soon"}, "start_ms"),
    ({"end_ms": 1.5}, "end_ms"),
    ({"speaker": "bot"}, "speaker"),
    ({"text": None}, "text"),
    ({"final": "maybe"}, "final"),
    ({"call_id": 7}, "call_id"),
    ({"type": "utterence"}, "type"),
    ({"start_ms": 900, "end_ms": 100}, "end_ms"),
])
def test_wrong_field_types_are_refused_naming_the_field(call, change, field):
    event = {"type": "utterance", "call_id": "c1", "speaker": "agent", "text": "hi", "start_ms": 0,
             "end_ms": 10, **change}
    with pytest.raises(EventError) as err:
        call.engine.feed(event)
    assert err.value.field == field
    assert f"'{field}'" in str(err.value)


def test_capacity_error_when_max_calls_are_open(rules: CompiledRules):
    engine = Engine(rules, max_calls=2)
    try:
        engine.feed({"type": "call.start", "call_id": "a", "t_ms": 0})
        engine.feed({"type": "call.start", "call_id": "b", "t_ms": 0})
        with pytest.raises(CapacityError, match="'c' refused"):
            engine.feed({"type": "call.start", "call_id": "c", "t_ms": 0})
        assert engine.open_calls == ["a", "b"]
        engine.feed({"type": "call.end", "call_id": "a", "t_ms": 1})
        assert engine.feed({"type": "call.start", "call_id": "c", "t_ms": 2}) == []
    finally:
        engine.close()


def test_calls_on_one_engine_do_not_share_state(call, new_call):
    other = new_call("c2")
    call.customer(ANGRY)
    assert of_rule(other.agent("I'm sorry about that."), "acknowledge-before-apology") == []
    assert of_rule(call.agent("I'm sorry about that."), "acknowledge-before-apology") != []


def test_language_is_detected_when_the_call_start_has_none(new_call):
    call = new_call("auto", lang=None)
    call.customer(ANGRY_ZH)
    (prompt,) = of_rule(call.agent("对不起。"), "acknowledge-before-apology")
    assert prompt.say.startswith("先认可")


def test_engine_lang_overrides_the_call_language(rules):
    engine = Engine(rules, lang="zh")
    try:
        engine.feed({"type": "call.start", "call_id": "x", "lang": "en", "t_ms": 0})
        engine.feed({"type": "utterance", "call_id": "x", "speaker": "customer", "text": HELLO,
                     "start_ms": 0, "end_ms": 500})
        outputs = engine.feed({"type": "utterance", "call_id": "x", "speaker": "agent", "text": "Calm down.",
                               "start_ms": 0, "end_ms": 900})
        (prompt,) = of_rule(outputs, "no-blame")  # English words still match; the advice is in Chinese
        assert prompt.say == rules.rules["no-blame"].say["zh"]
    finally:
        engine.close()


# -- replay-level guarantees -------------------------------------------------------------------------
def _replay_json(rules: CompiledRules, path: Path, **engine_kw: bool) -> list[str]:
    engine = Engine(rules, **engine_kw)
    try:
        return [json.dumps(o.to_dict(), ensure_ascii=False) for step in replay([path], rules, engine=engine)
                if isinstance(step, Step) for o in step.outputs]
    finally:
        engine.close()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_prefilter_only_saves_time(rules, path):
    with_filter = _replay_json(rules, path)
    assert with_filter, "every example raises something"
    assert _replay_json(rules, path, prefilter=False) == with_filter


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_replaying_the_same_file_twice_gives_identical_json(rules, path):
    assert _replay_json(rules, path) == _replay_json(rules, path)


def _example_lines() -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for path in EXAMPLES:
        for item in read_file(path, None, ReadOptions(call_id=path.stem)):
            event = item.event or {}
            if event.get("type") == "utterance":
                lines.append((event["speaker"], event["text"]))
    return lines


EXAMPLE_LINES = _example_lines()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(0, len(EXAMPLE_LINES) - 1), min_size=1, max_size=14),
       gaps=st.lists(st.integers(0, 70_000), min_size=14, max_size=14),
       lang=st.sampled_from(["en", "zh", "zh-TW", None]))
def test_the_prefilter_only_saves_time_on_any_mix_of_real_lines(rules, picks, gaps, lang):
    results = []
    for prefilter in (True, False):
        engine = Engine(rules, prefilter=prefilter)
        start: dict[str, object] = {"type": "call.start", "call_id": "p", "t_ms": 0}
        if lang:
            start["lang"] = lang
        out = engine.feed(start)
        t = 0
        for pick, gap in zip(picks, gaps, strict=False):
            speaker, text = EXAMPLE_LINES[pick]
            t += gap
            out += engine.feed({"type": "utterance", "call_id": "p", "speaker": speaker, "text": text,
                                "start_ms": t, "end_ms": t + 1000})
        out += engine.feed({"type": "call.end", "call_id": "p", "t_ms": t + 2000})
        engine.close()
        results.append([o.to_dict() for o in out])
    assert results[0] == results[1]


def test_a_transfer_changes_the_agent_and_the_call_goes_on(engine: Engine) -> None:
    engine.feed({"type": "call.start", "call_id": "t1", "lang": "en", "t_ms": 0})  # queued: no agent yet
    engine.feed({"type": "utterance", "call_id": "t1", "speaker": "customer", "start_ms": 0, "end_ms": 3000,
                 "text": "This is ridiculous, I've been waiting two weeks!"})
    fed = engine.feed({"type": "call.transfer", "call_id": "t1", "agent_id": "a8", "t_ms": 4000})
    assert [o.to_dict() for o in fed] == [{"kind": "transfer", "call_id": "t1", "t_ms": 4000, "agent_id": "a8",
                                           "from_agent_id": None}]
    assert fed.call.agent_id == "a8" and fed.call.open
    after = engine.feed({"type": "utterance", "call_id": "t1", "speaker": "agent", "start_ms": 4500,
                         "end_ms": 6000, "text": "I'm sorry. Can I have your order number?"})
    assert any(o.kind == "prompt" for o in after)  # the customer's anger carried over the transfer


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(0, len(EXAMPLE_LINES) - 1), min_size=1, max_size=10),
       gaps=st.lists(st.integers(0, 90_000), min_size=10, max_size=10))
def test_ticks_before_the_views_due_time_change_nothing(rules, picks, gaps):
    """A live server ticks every open call each second; it may skip the ticks before `CallView.due_ms`
    (what it does with thousands of calls open): the prompts, expiries and silences are the same."""
    results = []
    for only_when_due in (False, True):
        engine = Engine(rules)
        fed = engine.feed({"type": "call.start", "call_id": "d", "lang": "en", "t_ms": 0})
        out, now = list(fed), 0
        for pick, gap in zip(picks, gaps, strict=False):
            speaker, text = EXAMPLE_LINES[pick]
            for t in range(now + 1000, now + gap, 1000):  # the server's clock between two utterances
                if only_when_due and (fed.call.due_ms is None or t < fed.call.due_ms):
                    continue
                fed = engine.feed({"type": "tick", "call_id": "d", "t_ms": t})
                out += fed
            now += gap
            fed = engine.feed({"type": "utterance", "call_id": "d", "speaker": speaker, "text": text,
                               "start_ms": now, "end_ms": now + 1000})
            out += fed
            now += 1000
        out += engine.feed({"type": "call.end", "call_id": "d", "t_ms": now + 1000})
        engine.close()
        results.append([o.to_dict() for o in out])
    assert results[0] == results[1]
