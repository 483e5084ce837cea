"""Each sample is detected as its own format, and the older examples keep theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from assist.formats import detect

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {
    "transcribe_batch_en.json": "transcribe",
    "transcribe_analytics_en.json": "transcribe-analytics",
    "transcribe_streaming_en.jsonl": "transcribe-streaming",
    "deepgram_streaming_en.jsonl": "deepgram",
    "deepgram_prerecorded_en.json": "deepgram-prerecorded",
    "lca_zh.jsonl": "lca",
    "call_en.vtt": "webvtt",
    "call_zh.srt": "srt",
}


@pytest.mark.parametrize(("name", "fmt"), sorted(SAMPLES.items()))
def test_sample_is_detected_as_its_format(name: str, fmt: str) -> None:
    content = (ROOT / "examples/formats" / name).read_text(encoding="utf-8")
    assert detect(content[:4096], name).name == fmt


@pytest.mark.parametrize("path", sorted(p.name for p in (ROOT / "examples").iterdir()
                                        if p.suffix in {".jsonl", ".txt"}))
def test_older_examples_keep_their_format(path: str) -> None:
    content = (ROOT / "examples" / path).read_text(encoding="utf-8")
    assert detect(content[:4096], path).name == ("jsonl" if path.endswith(".jsonl") else "text")


def test_a_big_document_is_detected_from_its_first_4096_characters() -> None:
    content = (ROOT / "examples/formats/transcribe_analytics_en.json").read_text(encoding="utf-8")
    assert len(content) > 4096
    assert detect(content[:4096], "x.json").name == "transcribe-analytics"
