"""Hostile inputs shared by the property tests, and the settings that keep the suite under a minute."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Each hypothesis test: few examples (inputs are big), a deadline per example, no slow-data checks.
PROPS = settings(max_examples=40, deadline=timedelta(seconds=3), derandomize=False,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.large_base_example])

FRAGMENTS = [
    # speaker labels and timestamps the text format knows, in both scripts, and look-alikes
    "Agent: ", "Customer: ", "agent:", "客户：", "坐席:", "客戶：", "顧客 2: ", "[00:01] ", "(1:02:03.5) ",
    "cuſtomer: ", "clienＴ: ", "İ", "ı", "K", "ſ", "ﬀ", "Ａｇｅｎｔ：", "# ",
    # cue words, negation, quotes, clause breaks
    "This is ridiculous", " angry ", "I'm not angry", "cannot", "will not", " but ", "hurry up",
    "这也太离谱了", "這也太離譜了", "我不生气", "太過分了", "对不起", "“", "”", '"', "'", "\u2019", "「", "」",
    "«", "»", ",", "。", "！",
    # other scripts, right-to-left text and marks, joiners, combining marks, NFKC expanders
    "Привет, мир", "Ёлка", "مرحبا بالعالم", "שלום עולם", "\u200f", "\u200e", "\u202e", "\u2066", "\u2069",
    "\u200d", "\u200c", "\ufeff", "a\u0301", "e\u0308\u0308", "\ufdfa", "\u337f", "\u2126",
    # emoji: ZWJ families, flags, skin tones, outside the BMP
    "👩‍👩‍👧‍👦", "🇬🇧", "👍🏽", "\U0001f600", "\U00020000", "𠜎",
    # control characters and every line break str.splitlines knows
    "\x00", "\x07", "\x1b[31m", "\r\n", "\r", "\n", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
    "\u2028", "\u2029",
    # JSON and YAML punctuation
    "{", "}", "[", "]", ":", "：", '{"type": "utterance"', '"call_id": "c"', "null", "1e999", "-0",
    "- ", "? ", "&a ", "*a", "!!python/object:os.system ", "|", ">", "---", "...", "%YAML 1.2", "~",
]

SURROGATES = ["\ud800", "\udfff", "\ud83d", "\ude00", "\udcff"]


def _long(piece: str, n: int) -> str:
    return (piece * (n // max(1, len(piece)) + 1))[:n]


def mixed_text(*, surrogates: bool = False, max_pieces: int = 30) -> st.SearchStrategy[str]:
    """Concatenations of the fragments above and arbitrary unicode, optionally with lone surrogates."""
    pieces = [st.sampled_from(FRAGMENTS), st.text(max_size=20)]
    if surrogates:
        pieces.append(st.sampled_from(SURROGATES))
        pieces.append(st.text(st.characters(codec=None), max_size=10))
    return st.lists(st.one_of(*pieces), max_size=max_pieces).map("".join)


def long_text(max_len: int) -> st.SearchStrategy[str]:
    """One fragment or a very long word repeated up to `max_len` characters (1 MB lines, 20 kB words)."""
    return st.builds(_long, st.sampled_from([*FRAGMENTS, "a", "x" * 1000, "angry "]),
                     st.sampled_from(sorted({10_000, max_len // 2, max_len})))


def deep_json(max_depth: int = 10_000) -> st.SearchStrategy[str]:
    """'[' or '{"a":' nested up to 10,000 levels, closed or left open."""
    def build(opener: str, depth: int, closed: bool) -> str:
        head, tail = ("[" * depth, "]" * depth) if opener == "[" else ('{"a":' * depth, "}" * depth)
        return head + tail if closed else head
    return st.builds(build, st.sampled_from(["[", "{"]), st.integers(1, max_depth), st.booleans())


def hostile_text(max_len: int = 1_000_000) -> st.SearchStrategy[str]:
    return st.one_of(mixed_text(), long_text(max_len), deep_json(), st.text(),
                     st.integers(4000, 6000).map(lambda n: "1" * n))


def hostile_bytes(max_len: int = 1_000_000) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, invalid UTF-8, and hostile text in UTF-8 (with and without BOM) and UTF-16."""
    text = hostile_text(max_len)
    return st.one_of(
        st.binary(max_size=200),
        text.map(lambda s: s.encode("utf-8")),
        text.map(lambda s: s.encode("utf-8-sig")),
        mixed_text().map(lambda s: s.encode("utf-16")),
        st.tuples(mixed_text(), st.binary(min_size=1, max_size=8)).map(lambda t: t[0].encode() + b"\xff" + t[1]),
    )


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), mixed_text(max_pieces=5))
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def json_lines(events: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.lists(events.map(lambda e: json.dumps(e, ensure_ascii=False)), max_size=8).map("\n".join)


EVENT_TYPES = ["call.start", "utterance", "call.end", "tick"]
# Event-shaped objects: a known type and each field either plausible or any JSON value at all.
FIELD_VALUES = {
    "call_id": st.one_of(st.text(min_size=1, max_size=8), mixed_text(), long_text(400)),
    "t_ms": st.integers(-5, 10**7), "start_ms": st.integers(-5, 10**7), "end_ms": st.integers(-5, 10**7),
    "speaker": st.sampled_from(["agent", "customer", "Agent", "客户", ""]),
    "text": st.one_of(mixed_text(), long_text(25_000)),
    "lang": st.sampled_from(["en", "zh", "zh-TW", "zh-Hant", "ZH_hk", "", "xx-YY"]),
    "final": st.booleans(), "confidence": st.floats(), "seq": st.integers(), "agent_id": mixed_text(max_pieces=3),
}
EVENT_OBJECTS: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"type": st.sampled_from(EVENT_TYPES) | JSON_VALUES},
    optional={name: values | JSON_VALUES for name, values in FIELD_VALUES.items()}
    | {"extra": JSON_VALUES, "": JSON_VALUES},
)
