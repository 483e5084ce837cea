"""normalize, CueMatcher.match and Engine.feed on arbitrary unicode, with the real playbook pack.

They run in a forked child (see _guard): opencc, pyahocorasick and durable_rules are C extensions.
"""

from __future__ import annotations

import itertools
import json
from functools import cache

from hypothesis import example, given
from hypothesis import strategies as st

from assist import Engine, load_rules
from assist.core.compiled import CompiledRules
from assist.core.events import Utterance
from assist.core.normalize import base_lang, normalize, word_count
from assist.core.outputs import Prompt, Summary
from assist.errors import EventError

from ._guard import isolated
from ._strategies import PROPS, long_text, mixed_text

RULES: CompiledRules = load_rules()  # compiled once in the parent; every fork inherits it
ANGRY = "This is ridiculous, I've waited two weeks!"
SORRY = "I'm sorry, can I have your order number?"
_ids = itertools.count()


@cache
def _engine() -> Engine:
    return Engine(RULES)


any_text = st.one_of(mixed_text(surrogates=True), long_text(20_000), st.text(st.characters(codec=None)))


@isolated(timeout=60)
@PROPS
@given(any_text)
@example("\ud800中文")                # OpenCC raised UnicodeEncodeError on a lone surrogate (fixed)
@example("angry " * 3300)            # every hit rescanned the text from the start: 3 s (fixed)
@example("不生气" * 6600)
@example("hurry up " * 2200)
def test_normalize_and_match_stay_in_bounds(text: str) -> None:
    norm = normalize(text)
    assert isinstance(norm, str)
    assert word_count(norm) >= 0
    for speaker, matcher in RULES.matchers.items():
        for source in (norm, text):  # the raw text too: match() must not rely on its input being normal
            hits = matcher.match(source)
            for h in hits:
                assert 0 <= h.start <= h.end <= len(source), (speaker, h)
                assert source[h.start:h.end] == h.text, (speaker, h)
            assert [h.start for h in hits] == sorted(h.start for h in hits)


speakers = st.sampled_from(["agent", "customer"])
turns = st.lists(st.tuples(speakers, st.one_of(mixed_text(), long_text(20_000)), st.booleans()), max_size=6)
langs = st.one_of(st.none(), st.sampled_from(["en", "zh", "zh-TW", "zh-Hant", "ZH_hk", "", "xx"]), mixed_text())


def _outputs_are_valid(outputs: list[object]) -> None:
    for out in outputs:
        data = out.to_dict()  # type: ignore[attr-defined]
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # what the server sends
        assert data["kind"] and isinstance(data["t_ms"], int)


@isolated(timeout=60)
@PROPS
@given(turns, langs)
@example([("customer", "angry " * 3300, True)], None)
@example([("customer", "这也太离谱了" + "ſ" * 19_000, True), ("agent", "", True)], "zh-TW")
def test_engine_survives_any_utterances(said: list[tuple[str, str, bool]], lang: str | None) -> None:
    eng = _engine()
    n = next(_ids)
    noisy, calm = f"noisy-{n}", f"calm-{n}"
    start: dict[str, object] = {"type": "call.start", "call_id": noisy, "t_ms": 0}
    if lang is not None:
        start["lang"] = lang
    try:
        started = eng.feed(start)
    except EventError as exc:  # a tag too long or with control/format characters is refused, said where
        assert exc.field == "lang", str(exc)
        del start["lang"]
        lang = None
        started = eng.feed(start)
    if base_lang(lang) in (None, *RULES.languages):
        assert started == []
    else:  # a language without a lexicon: one warning saying so, and the call goes on
        assert [(o.to_dict()["kind"], o.to_dict()["code"]) for o in started] == [("warning", "unsupported_language")]
    eng.feed({"type": "call.start", "call_id": calm, "t_ms": 0, "lang": "en"})
    t = 0
    for speaker, text, final in said:
        event = {"type": "utterance", "call_id": noisy, "speaker": speaker, "text": text,
                 "start_ms": t, "end_ms": t + 500, "final": final}
        t += 1000
        try:
            outputs = eng.feed(event)
        except EventError as exc:
            assert len(text) > 20_000 and "text" in str(exc), str(exc)
            continue
        _outputs_are_valid(outputs)
    # the engine still works: a calm call on the same engine raises the usual prompt
    out = eng.feed(Utterance(type="utterance", call_id=calm, speaker="customer", text=ANGRY, start_ms=100,
                             end_ms=3000))
    out += eng.feed(Utterance(type="utterance", call_id=calm, speaker="agent", text=SORRY, start_ms=3100,
                              end_ms=5000))
    assert "acknowledge-emotion" in {o.rule for o in out if isinstance(o, Prompt)}
    for call_id in (noisy, calm):
        summary = eng.feed({"type": "call.end", "call_id": call_id, "t_ms": t + 1})
        assert len(summary) == 1 and isinstance(summary[0], Summary)
        _outputs_are_valid(summary)
    assert noisy not in eng.open_calls and calm not in eng.open_calls
