"""Every bundled example call: no prompt is raised before the customer first speaks (the agent's
greeting is never coached, and never taken for a closing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assist import Prompt, Utterance, load_rules
from assist.replay import Problem, Step, replay

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
AGENT_OPTIONS = {"transcribe_streaming": {"agent_channel": "ch_1"}, "transcribe": {"agent_speaker": "spk_0"},
                 "deepgram": {"agent_speaker": "0"}}  # as examples/formats/README.md says
FILES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in {".txt", ".jsonl", ".json", ".vtt", ".srt"})


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_no_prompt_before_the_customer_first_speaks(path: Path) -> None:
    options = next((v for k, v in AGENT_OPTIONS.items() if path.name.startswith(k)), {})
    spoke: set[str] = set()
    for item in replay([path], load_rules(), **options):
        if isinstance(item, Problem):
            pytest.fail(f"{path.name}: {item.message[:120]}")
        assert isinstance(item, Step)
        ev = item.event
        if isinstance(ev, Utterance) and ev.speaker == "customer" and ev.final:
            spoke.add(ev.call_id)
        for out in item.outputs:
            if isinstance(out, Prompt):
                assert out.call_id in spoke, f"{path.name}: {out.rule} at {out.t_ms} ms, before the customer spoke"
