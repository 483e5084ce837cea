"""SubRip (SRT) captions of a call: numbered cues, ``00:00:01,000 --> 00:00:04,000`` timings, and
``Agent:`` / ``Customer:`` (or 坐席/客户…) prefixes or ``<v Agent>`` voice tags; read the same way as
WebVTT (see ``webvtt.py``), speaker names need ``--agent-speaker NAME``.

Syntax follows:
  https://en.wikipedia.org/wiki/SubRip#Format
  https://docs.fileformat.com/video/srt/
"""

from __future__ import annotations

import re

from assist.formats import Format
from assist.formats.webvtt import read_cues

_HEAD = re.compile(r"^\s*\d+\s*\r?\n\s*\d{1,2}:\d{2}:\d{2},\d{1,3}\s*-->\s*\d{1,2}:\d{2}:\d{2},\d{1,3}")


def _sniff(head: str) -> bool:
    return bool(_HEAD.match(head.lstrip("\ufeff")))


FORMAT = Format("srt", "SubRip captions with Agent:/Customer: prefixes or <v> voice tags", _sniff, read_cues)
