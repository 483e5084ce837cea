"""One canonical form for every spelling, so one lexicon serves them all."""

from __future__ import annotations

import pytest

from assist.core.normalize import base_lang, detect_lang, normalize, to_traditional, word_count


@pytest.mark.parametrize(("raw", "normal"), [
    ("I  CANNOT\thelp", "i can't help"),
    ("we can not", "we can't"),
    ("We Will Not", "we won't"),
    ("I’m sorry", "i'm sorry"),
    ("ＣＡＬＭ　ＤＯＷＮ", "calm down"),
    ("這太離譜了！", "这太离谱了!"),
    ("  spaced   out  ", "spaced out"),
])
def test_normalize(raw, normal):
    assert normalize(raw) == normal


def test_cannot_is_only_rewritten_as_a_word():
    assert normalize("cannoted willnot") == "cannoted willnot"


def test_to_traditional_uses_taiwan_forms():
    assert to_traditional("先认可情绪再道歉") == "先認可情緒再道歉"


@pytest.mark.parametrize(("lang", "base"), [("zh-TW", "zh"), ("en_US", "en"), ("ZH", "zh"), (None, None)])
def test_base_lang(lang, base):
    assert base_lang(lang) == base


def test_detect_lang_and_word_count():
    assert detect_lang("你好 hello") == "zh"
    assert detect_lang("hello") == "en"
    assert word_count("i can't do that") == 4
    assert word_count("你好吗") == 2  # about one word per two Han characters
