"""`assist demo` says what it does: how to open the pages, then the call as it streams, with its prompts."""

from __future__ import annotations

from serverkit import run

from assist.server.demo import run_demo


def test_demo_prints_each_utterance_and_the_prompts_as_it_streams() -> None:
    lines: list[str] = []
    assert run(run_demo(port=0, speed=1000, once=True, print_=lines.append), timeout=60) == 0
    text = "\n".join(lines)
    assert "Open an address in a browser" in text
    assert "━━ call demo-en-1-1 · agent a7 · en ━━" in text
    assert any(line.startswith("[00:0") and "CUSTOMER  Hi, I'm calling about order 58213." in line
               for line in lines)
    warn = lines.index(next(line for line in lines if line.endswith("! WARN   acknowledge-before-apology")))
    assert lines[warn + 1].strip().startswith("say: Name the feeling first")
    assert lines[warn + 2].strip().startswith("why: Apology")
    assert any("✓ done   acknowledge-before-apology" in line for line in lines)
    utterance = next(i for i, line in enumerate(lines) if "I'm sorry" in line or "sorry" in line.lower())
    assert utterance < warn  # the prompt comes after what caused it
    assert lines[-1].startswith("call 1: 17 events streamed,")
