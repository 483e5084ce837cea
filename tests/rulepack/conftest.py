"""A small, valid rule pack written into tmp_path; tests break one thing in it at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

PACK = """\
id: mini
version: 1
description: one rule, two languages
languages: [en, zh]
cues:
  anger: {speaker: customer, negatable: true, description: anger}
  apology: {speaker: agent, description: an apology}
  acknowledge: {speaker: agent, description: names the feeling}
  refusal: {speaker: agent, description: says no}
state:
  upset:
    description: the customer is upset and nobody said so
    set_by: {customer: [anger]}
    cleared_by: {agent: [acknowledge]}
"""

LEXICON_EN = """\
lang: en
cues:
  anger: {phrases: [angry, ridiculous]}
  apology: {phrases: [sorry]}
  acknowledge: {phrases: ["i can hear"]}
  refusal: {phrases: [no, off]}
"""

LEXICON_ZH = """\
lang: zh
cues:
  anger: {phrases: [生气, 离谱]}
  apology: {phrases: [对不起]}
  acknowledge: {phrases: [我理解]}
  refusal: {phrases: [不行]}
"""

RULE = """\
id: ack-first
title: Acknowledge before apologising
severity: warn
on: agent
when: {all: [apology], none: [acknowledge], state: [upset]}
resolved_by: [acknowledge]
say:
  en: Name the feeling first.
  zh: 先认可情绪。
why:
  en: Apology ("{heard}") before acknowledging
  zh: 先道歉（“{heard}”）
cases:
  - lang: en
    expect: fire
    turns:
      - customer: This is ridiculous!
      - agent: Sorry about that.
  - lang: en
    expect: quiet
    turns:
      - customer: This is ridiculous!
      - agent: I can hear how annoying this is. Sorry.
  - lang: zh
    expect: fire
    turns:
      - customer: 太离谱了！
      - agent: 对不起。
  - lang: zh
    expect: quiet
    turns:
      - customer: 太离谱了！
      - agent: 我理解您的心情，对不起。
"""

FILES = {"pack.yaml": PACK, "lexicon/en.yaml": LEXICON_EN, "lexicon/zh.yaml": LEXICON_ZH,
         "rules/ack-first.yaml": RULE}

Edits = dict[str, tuple[str, str]]  # file → (old text, new text)


class Pack:
    """The pack as written: its packs directory and the final text of each file."""

    def __init__(self, root: Path, files: dict[str, str]):
        self.root = root
        self.files = files

    def line(self, file: str, needle: str) -> int:
        """1-based line of the first line of `file` containing `needle`."""
        return next(n for n, line in enumerate(self.files[file].splitlines(), 1) if needle in line)


@pytest.fixture
def write_pack(tmp_path: Path) -> Callable[..., Pack]:
    """write_pack({"rules/ack-first.yaml": ("severity: warn", "severity: critical")}) writes pack 'mini'."""
    def write(edits: Edits | None = None, extra: dict[str, str] | None = None) -> Pack:
        files = dict(FILES)
        for name, (old, new) in (edits or {}).items():
            assert old in files[name], f"{old!r} not in {name}"
            files[name] = files[name].replace(old, new, 1)
        files.update(extra or {})
        for name, text in files.items():
            path = tmp_path / "mini" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return Pack(tmp_path, files)
    return write
