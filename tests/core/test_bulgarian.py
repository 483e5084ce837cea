"""Bulgarian on the real lexicons: Cyrillic words, inflected forms, 'не' negation, „…“ quotes,
language detection, and the warning a call in a language without a lexicon gets."""

from __future__ import annotations

import pytest

from assist import CallWarning, Classification, CompiledRules, Engine, Prompt, Resolved
from assist.core.normalize import detect_lang, normalize, word_count


def cue_names(rules: CompiledRules, speaker: str, text: str) -> set[str]:
    return {h.cue for h in rules.matchers[speaker].match(normalize(text))}


@pytest.mark.parametrize(("text", "lang"), [
    ("Ядосан съм, чакам вече две седмици!", "bg"),
    ("Ъъъ, не съм сигурна кой тарифен план да избера.", "bg"),
    ("Моят iPhone пак не работи.", "bg"),           # a Latin brand name in a Bulgarian sentence
    ("Я очень зол, это безобразие!", "ru"),          # ы/э/ё: Russian, which the packs do not cover
    ("This is ridiculous, I want a refund.", "en"),
    ("My name is Иван Петров.", "en"),              # a Cyrillic name in English speech
    ("你们太过分了！", "zh"),
])
def test_language_detection_tells_bulgarian_from_english_chinese_and_russian(text, lang):
    assert detect_lang(text) == lang


def test_bulgarian_is_lower_cased_and_counted_in_words():
    assert normalize("НЕ СЪМ  Ядосан") == "не съм ядосан"
    assert word_count(normalize("Чакам вече две седмици за възстановяване!")) == 6


@pytest.mark.parametrize(("text", "cue"), [
    ("Ядосан съм!", "anger"),
    ("Ядосана съм!", "anger"),                       # feminine
    ("Ядосани сме всички вкъщи.", "anger"),          # plural
    ("Това ме вбесява.", "anger"),
    ("Много съм разочарована от вас.", "frustration"),
    ("Вие сте некадърници!", "insult"),
    ("Ще ви съдя!", "threat"),
    ("Побързайте, моля, бързам.", "impatience"),
    ("Не разбирам какво ми казвате.", "confusion"),
    ("Объркана съм.", "confusion"),
    ("На 82 години съм и живея сама.", "vulnerability"),
    ("Не мога да реша кой да взема.", "indecision"),
])
def test_inflected_customer_forms_are_heard(rules, text, cue):
    assert cue in cue_names(rules, "customer", text)


@pytest.mark.parametrize(("text", "cue"), [
    ("Не съм ядосан, просто питам.", "anger"),
    ("Изобщо не съм разочарована, само искам да знам.", "frustration"),
    ("Не бързам, имам време.", "impatience"),
    ("Никога не съм била ядосана на вас.", "anger"),
])
def test_a_negated_bulgarian_emotion_is_not_heard(rules, text, cue):
    assert cue not in cue_names(rules, "customer", text)


@pytest.mark.parametrize("text", [
    "Не знам защо, но съм ядосан.",     # 'но' starts a new clause
    "Не, ядосана съм!",                  # the 'не' is its own clause
    "Не съм доволен от обслужването.",   # the negator inside the phrase is the phrase
])
def test_a_bulgarian_emotion_after_a_clause_break_or_inside_the_phrase_is_heard(rules, text):
    assert "anger" in cue_names(rules, "customer", text)


def test_words_in_bulgarian_quotation_marks_are_reported_speech(rules):
    assert "anger" not in cue_names(rules, "customer", "Синът ми каза „това е безобразие“, но аз само питам.")


@pytest.mark.parametrize(("speaker", "text", "cue"), [
    ("customer", "Неядосаният ми съсед звънна.", "anger"),   # a phrase inside a longer word is no match
    ("agent", "Не мога да ви помогна с това.", "alternative"),  # 'не мога' is not 'мога'
    ("agent", "Това изобщо не е по ваша вина.", "blame"),
    ("agent", "Не мога да намеря поръчката.", "cant"),         # not finding something is not a refusal
])
def test_bulgarian_near_misses(rules, speaker, text, cue):
    assert cue not in cue_names(rules, speaker, text)


@pytest.mark.parametrize(("text", "cues"), [
    ("Разбирам колко ви е ядосало това.", {"acknowledge"}),
    ("Мога да ви предложа ваучер за 20 лева.", {"alternative", "offer", "concession"}),
    ("Не можем да го направим.", {"cant"}),
    ("Вината е ваша, трябваше да проверите.", {"blame"}),
    ("Да обобщя: ще ви се обадим до петък. Устройва ли ви?",
     {"summary", "next_step", "time", "check_satisfaction", "question"}),
])
def test_agent_phrases(rules, text, cues):
    assert cues <= cue_names(rules, "agent", text)


def test_a_stem_hit_quotes_the_whole_word_said(rules):
    hits = rules.matchers["customer"].match(normalize("Вбесена съм!"))
    assert [(h.cue, h.text) for h in hits] == [("anger", "вбесена")]


def _start(engine: Engine, call_id: str, lang: str | None) -> list[object]:
    event: dict[str, object] = {"type": "call.start", "call_id": call_id, "t_ms": 0}
    if lang is not None:
        event["lang"] = lang
    return list(engine.feed(event))


def _say(engine: Engine, call_id: str, text: str, t: int) -> list[object]:
    return list(engine.feed({"type": "utterance", "call_id": call_id, "speaker": "customer", "text": text,
                             "start_ms": t, "end_ms": t + 1000}))


def test_a_call_in_a_language_without_a_lexicon_is_warned_about_once(engine):
    (warning,) = _start(engine, "fr-1", "fr-FR")
    assert isinstance(warning, CallWarning)
    assert warning.code == "unsupported_language" and warning.lang == "fr-FR"
    assert "no lexicon for language 'fr-FR'" in warning.message and "en" in warning.message
    assert warning.to_dict()["kind"] == "warning"
    outputs = _say(engine, "fr-1", "C'est inadmissible, je suis furieux !", 1000)
    assert not any(isinstance(o, CallWarning) for o in outputs)


def test_a_detected_language_without_a_lexicon_is_warned_about_once(engine):
    assert _start(engine, "ru-1", None) == []
    first = _say(engine, "ru-1", "Я очень зол, это безобразие!", 0)
    assert [o.lang for o in first if isinstance(o, CallWarning)] == ["ru"]
    assert not any(isinstance(o, CallWarning) for o in _say(engine, "ru-1", "Вы меня слышите?", 2000))


@pytest.mark.parametrize("lang", ["en", "en-GB", "zh-TW", None])
def test_calls_in_a_covered_language_get_no_warning(engine, lang):
    assert _start(engine, "ok", lang) == []
    assert not any(isinstance(o, CallWarning) for o in _say(engine, "ok", "Hello, my order is late.", 0))


def _agent(engine: Engine, call_id: str, text: str, t: int) -> list[object]:
    return list(engine.feed({"type": "utterance", "call_id": call_id, "speaker": "agent", "text": text,
                             "start_ms": t, "end_ms": t + 1000}))


@pytest.mark.parametrize("lang", ["bg", "bg-BG", None])
def test_a_bulgarian_call_gets_bulgarian_prompts_quoting_the_words_said(engine, rules, lang):
    assert _start(engine, "bg-1", lang) == []
    _say(engine, "bg-1", "Това е безобразие, чакам парите си вече две седмици!", 0)
    (prompt,) = [o for o in _agent(engine, "bg-1", "Съжалявам. Може ли номера на поръчката?", 2000)
                 if isinstance(o, Prompt) and o.rule == "acknowledge-before-apology"]
    assert prompt.say == rules.rules["acknowledge-before-apology"].say["bg"]
    assert prompt.why == "Извинение („Съжалявам“), преди чувството на клиента да е признато"


def test_acknowledging_in_bulgarian_resolves_the_prompt(engine):
    _start(engine, "bg-2", "bg")
    _say(engine, "bg-2", "Ядосана съм, таксувахте ме два пъти!", 0)
    _agent(engine, "bg-2", "Извинете, може ли номера на договора?", 2000)
    resolved = _agent(engine, "bg-2", "Разбирам колко ви е ядосало това, наистина не биваше да се случва.", 4000)
    assert {o.rule for o in resolved if isinstance(o, Resolved)} >= {"acknowledge-before-apology",
                                                                      "acknowledge-emotion"}


def test_a_bulgarian_tip_names_the_customer_type_in_bulgarian(engine):
    _start(engine, "bg-3", "bg")
    outputs = _say(engine, "bg-3", "Това е безобразие, вбесен съм!", 0)
    (tip,) = [o for o in outputs if isinstance(o, Prompt) and o.rule == "tip-angry"]
    assert tip.say.startswith("Ядосан клиент:")
    (classification,) = [o for o in outputs if isinstance(o, Classification)]
    assert classification.top == "angry"


def test_a_strong_bulgarian_self_report_alone_makes_the_customer_angry(engine):
    _start(engine, "bg-4", "bg")
    outputs = _say(engine, "bg-4", "Вбесена съм!", 0)
    assert [o.top for o in outputs if isinstance(o, Classification)] == ["angry"]
    _start(engine, "bg-5", "bg")
    assert not any(isinstance(o, Classification) for o in _say(engine, "bg-5", "Ядосана съм.", 0))  # one plain cue


def test_calling_again_and_again_is_a_repeated_complaint(rules):
    assert "repeat_complaint" in cue_names(rules, "customer", "Три пъти ви звъня за това!")
    assert "repeat_complaint" not in cue_names(rules, "customer", "Три пъти седмично ползвам услугата.")


CALM_BG = [
    "Здравейте, искам да проверя дали сте получили плащането ми.",
    "Добър ден, бих искала да сменя тарифата си от следващия месец.",
    "Кога ще дойде куриерът? Вкъщи съм до пет часа.",
    "Искам да попитам колко струва новият телефон и дали има гаранция.",
    "Имам въпрос за сметката, там пише една такса, която не разбирам добре.",
    "Постоянно ползвам интернета за работа, затова искам по-бърз план.",
    "Искам да платя сметката веднага, може ли с карта?",
    "Интересува ме дали имате отстъпка за студенти.",
    "Четох, че имате нова оферта, разкажете ми повече.",
    "Пак ще ви се обадя, ако има нещо.",
    "Три пъти седмично ползвам роуминг, има ли пакет за това?",
    "Работя като адвокат и искам фактура на фирмата.",
]
UPSET_BG = [
    "Това е пълна подигравка, три пъти ви звъня и никой нищо не прави!",
    "Бесен съм, от седмица съм без интернет!",
    "Писна ми от вас, чакам вече месец!",
    "Срамота! Голяма фирма, а никой не ми отговаря.",
    "До гуша ми дойде от вашите обещания!",
    "Вие сте некадърници!",
]


@pytest.mark.parametrize("text", CALM_BG)
def test_a_calm_bulgarian_customer_is_not_taken_for_angry_or_abusive(engine, text):
    _start(engine, "calm", "bg")
    tops = [o.top for o in _say(engine, "calm", text, 0) if isinstance(o, Classification)]
    assert not set(tops) & {"angry", "abusive"}


@pytest.mark.parametrize("text", UPSET_BG)
def test_an_upset_bulgarian_customer_is_noticed_in_one_turn(engine, text):
    _start(engine, "upset", "bg")
    tops = [o.top for o in _say(engine, "upset", text, 0) if isinstance(o, Classification)]
    assert tops and tops[-1] in {"angry", "abusive"}
