"""Cue intensity: strong and weak phrases in a lexicon count for more or less when customer types are scored."""

from __future__ import annotations

import pytest

from assist import Classification, Engine, RulePackError, load_rules

TYPES = """
types:
  angry:
    title: {en: angry, zh: 愤怒}
    cues: {anger: 0.45}
"""
LEX = "lexicon/en.yaml"
PLAIN = "anger: {phrases: [angry, ridiculous]}"
WEIGHTED = "anger: {phrases: [angry, ridiculous], strong: [furious, i'm livid], weak: [annoyed]}"


def top_after(pack_root: object, text: str) -> str | None:
    engine = Engine(load_rules(pack_root))  # type: ignore[arg-type]
    try:
        engine.feed({"type": "call.start", "call_id": "c", "lang": "en", "t_ms": 0})
        outs = engine.feed({"type": "utterance", "call_id": "c", "speaker": "customer", "text": text,
                            "start_ms": 0, "end_ms": 2000})
        tops = [o.top for o in outs if isinstance(o, Classification)]
        return tops[-1] if tops else None
    finally:
        engine.close()


@pytest.mark.parametrize(("text", "top"), [
    ("I'm furious.", "angry"),                  # one strong phrase counts as two hits: 1 - 0.55² ≥ 0.6
    ("I'm livid.", "angry"),                    # a strong phrase of several words
    ("This is ridiculous.", None),              # one ordinary hit: 0.45
    ("Ridiculous, I'm annoyed.", None),         # ordinary + weak: 1 - 0.55^1.5 < 0.6
    ("Ridiculous, I'm angry.", "angry"),        # two ordinary hits
    ("I'm not furious, just asking.", None),    # negated: no hit at all, however strong
])
def test_strong_phrases_count_double_and_weak_ones_half(write_pack, text, top):
    pack = write_pack({"pack.yaml": ("state:", TYPES.lstrip() + "state:"), LEX: (PLAIN, WEIGHTED)})
    assert top_after(pack.root, text) == top


def test_a_lexicon_of_plain_phrase_lists_still_loads_and_scores_as_before(write_pack):
    pack = write_pack({"pack.yaml": ("state:", TYPES.lstrip() + "state:")})
    assert top_after(pack.root, "Ridiculous, I'm angry.") == "angry"
    assert top_after(pack.root, "I'm furious.") is None  # not in the plain lexicon


def test_a_phrase_both_strong_and_weak_is_a_problem(write_pack):
    pack = write_pack({LEX: (PLAIN, "anger: {phrases: [angry], strong: [furious], weak: [Furious]}")})
    with pytest.raises(RulePackError) as err:
        load_rules(pack.root)
    (problem,) = err.value.problems
    assert problem == (f"mini/{LEX}:{pack.line(LEX, 'furious')}: field 'cues.anger.weak': expected a phrase to be "
                       "strong or weak, not both: furious")


def test_the_pack_settings_say_how_much_strong_and_weak_count(write_pack):
    settings = "settings: {intensity: {strong: 1.2, weak: 0.5}}\nstate:"
    pack = write_pack({"pack.yaml": ("state:", TYPES.lstrip() + settings), LEX: (PLAIN, WEIGHTED)})
    assert top_after(pack.root, "I'm furious.") is None  # 1 - 0.55^1.2 < 0.6
