"""The engine's time per utterance grows at most linearly with the utterance's length (issue 12,
finding 2): quote spans times cue hits, and NFKC expansion, once made one message freeze the loop.

Time is measured as a ratio (the same unit repeated 4x as often), never against a wall-clock bound.
"""

from __future__ import annotations

import itertools
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from assist import Engine, load_rules
from assist.core.compiled import CompiledRules
from assist.core.cues import MAX_HITS
from assist.core.normalize import MAX_NORMALIZED_CHARS, normalize

from ._guard import isolated

RULES: CompiledRules = load_rules()
_ids = itertools.count()
# units that make hits, quote spans, negation look-backs and NFKC expansion as dense as they get
UNITS = ['""蠢', '"', "“离谱”", "ridiculous ", '"ridiculous" ', "not angry ", "ﷺ", "㍿", "蠢", "!", "離譜",
         "hurry up ", "不生气", "' ", "「太过分了」", "waitingrefund", "глупост"]
SHORT, LONG = 2_500, 10_000  # characters; LONG is 4x SHORT


def _feed_seconds(engine: Engine, text: str) -> float:
    """The least of three timings (CPU time of this thread: other processes do not count) of one
    customer utterance of `text` on a fresh call."""
    best = float("inf")
    for _ in range(3):
        call_id = f"lin{next(_ids)}"
        engine.feed({"type": "call.start", "call_id": call_id, "t_ms": 0, "lang": "en"})
        began = time.thread_time()
        engine.feed({"type": "utterance", "call_id": call_id, "speaker": "customer", "text": text,
                     "start_ms": 0, "end_ms": 2000})
        best = min(best, time.thread_time() - began)
        engine.end_call(call_id, 3000)
    return best


def _repeat(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


@isolated(timeout=180)
@settings(max_examples=6, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(UNITS), min_size=1, max_size=3).map("".join))
def test_time_per_utterance_grows_linearly_with_its_length(unit: str) -> None:
    engine = Engine(RULES)
    ratios = []
    try:
        _feed_seconds(engine, _repeat(unit, 500))  # warm up caches and the call slot pool
        for _ in range(3):  # a busy machine can slow one timing down, not three in a row
            short = _feed_seconds(engine, _repeat(unit, SHORT))
            long = _feed_seconds(engine, _repeat(unit, LONG))
            ratios.append(long / max(short, 2e-4))
            if ratios[-1] <= 8:
                return
    finally:
        engine.close()
    # linear: about 4x; quadratic (hits x quote spans): about 16x. 8x leaves room for noise.
    raise AssertionError(f"{unit!r}: {LONG} chars cost {min(ratios):.1f}x what {SHORT} chars cost")


def test_the_quote_span_bomb_of_the_review_is_as_cheap_as_plain_text_of_its_length() -> None:
    engine = Engine(RULES)
    try:
        bomb = ('""蠢' * 6667)[:20000]
        plain = ("这也太离谱了，" * 3000)[:20000]
        _feed_seconds(engine, plain[:500])
        ratio = _feed_seconds(engine, bomb) / _feed_seconds(engine, plain)
    finally:
        engine.close()
    assert ratio < 10, f"the quote-span bomb costs {ratio:.1f}x plain text of the same length"


def test_normalisation_cannot_blow_text_up_past_its_cap() -> None:
    assert len(normalize("ﷺ" * 20_000)) <= MAX_NORMALIZED_CHARS
    assert len(normalize("㍿" * 20_000)) <= MAX_NORMALIZED_CHARS
    assert normalize("ﷺ") == normalize("ﷺ" * 1)  # short text is untouched by the cap


def test_cue_hits_per_utterance_are_capped() -> None:
    matcher = RULES.matchers["customer"]
    hits = matcher.match(normalize("this is ridiculous " * 1000))
    assert 0 < len(hits) <= MAX_HITS
