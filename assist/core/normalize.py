"""Text normalisation: one canonical form so one lexicon serves every spelling.

NFKC folds full-width forms, case folding handles English and Bulgarian, and OpenCC turns
Traditional Chinese into Simplified so the zh lexicon is written once.
"""

from __future__ import annotations

import re
import unicodedata

import opencc

_T2S = opencc.OpenCC("t2s")
_S2T = opencc.OpenCC("s2twp")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-z]{2,}")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_CYRILLIC_LETTERS = re.compile(r"[\u0400-\u04ff]{2,}")
# Letters Russian writes and Bulgarian never does (and ъ/ѝ the other way round): enough to tell a
# Russian call, which the bundled packs do not cover, from a Bulgarian one.
_RUSSIAN_ONLY = re.compile(r"[ыэё]")
_BULGARIAN_ONLY = re.compile(r"[ъѝ]")
_WORD = re.compile(r"[a-z0-9\u0430-\u045f]+(?:'[a-z]+)?")
_SPACE = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone halves cannot be encoded for OpenCC; one U+FFFD each
_APOSTROPHES = ("\u2019", "\u2018", "\u02bc", "`")  # each becomes "'"
# Contractions people type both ways; the lexicon is written with the short form.
_CANON = ((re.compile(r"\bcan ?not\b"), "can't"), (re.compile(r"\bwill not\b"), "won't"))
# NFKC can multiply a text's length (one U+FDFA becomes 18 characters): what the engine reads is cut
# here, so a normalisation bomb costs no more than twice the longest utterance an event may carry
MAX_NORMALIZED_CHARS = 40_000
TRADITIONAL_LANGS = frozenset({"zh-tw", "zh-hk", "zh-mo", "zh-hant"})
MS_PER_LATIN_CHAR = 65  # ~15 characters a second of English speech
MS_PER_HAN_CHAR = 230   # ~4 to 5 characters a second of Chinese speech


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def has_latin(text: str) -> bool:
    return _LATIN.search(text) is not None


def has_cyrillic(text: str) -> bool:
    return _CYRILLIC.search(text) is not None


def normalize(text: str) -> str:
    """NFKC, case-fold, unify apostrophes and spaces, Traditional → Simplified Chinese."""
    if text.isascii():  # most English speech: NFKC and OpenCC would change nothing
        out = " ".join(text.lower().replace("`", "'").split())
    else:
        out = unicodedata.normalize("NFKC", text)[:MAX_NORMALIZED_CHARS].casefold()
        out = out[:MAX_NORMALIZED_CHARS]
        for mark in _APOSTROPHES:  # str.replace per mark: str.translate with a table costs ~20x more here
            out = out.replace(mark, "'")
        out = _SPACE.sub(" ", out).strip()
        if has_cjk(out):
            out = _T2S.convert(_SURROGATE.sub("\ufffd", out))
    if "not" in out:  # both canonical rewrites contain it
        for pattern, repl in _CANON:
            out = pattern.sub(repl, out)
    return out


def to_traditional(text: str) -> str:
    return str(_S2T.convert(text))


def base_lang(lang: str | None) -> str | None:
    """'zh-TW' → 'zh', 'en-US' → 'en'; None stays None."""
    if not lang:
        return None
    return lang.split("-")[0].split("_")[0].lower()


def detect_lang(text: str) -> str:
    """The language of a call's text: 'zh' with Han characters, 'bg' when Cyrillic words outnumber
    Latin ones ('ru' when only Russian letters say otherwise), else 'en'."""
    if has_cjk(text):
        return "zh"
    if has_cyrillic(text):
        low = text.lower()
        if len(_CYRILLIC_LETTERS.findall(low)) >= len(_LATIN.findall(low)):
            if _RUSSIAN_ONLY.search(low) and not _BULGARIAN_ONLY.search(low):
                return "ru"
            return "bg"
    return "en"


def word_count(normalized: str) -> int:
    """Words in English and Bulgarian, and about one word per two Han characters in Chinese."""
    han = len(_CJK.findall(normalized))
    latin = len(_WORD.findall(normalized))
    return latin + (han + 1) // 2


def estimate_ms(text: str) -> int:
    """How long saying `text` takes at a natural rate, for transcripts and cases without times."""
    han = sum(1 for ch in text if has_cjk(ch))
    return max(600, han * MS_PER_HAN_CHAR + (len(text) - han) * MS_PER_LATIN_CHAR)


_TRAILING = " ,.;:!?-–—，。；：！？、"


def snippet(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else cut at the last word boundary (a space; any character in
    text without spaces, such as Chinese) and ended with an ellipsis, never in the middle of a word."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if text[limit - 1] != " " and " " in cut:  # cutting inside a word: drop the partial word
        head = cut[:cut.rfind(" ")]
        cut = head if len(head) >= limit // 3 else cut
    return cut.rstrip(_TRAILING) + "…"
