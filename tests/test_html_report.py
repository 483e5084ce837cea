"""assist replay --html: the page as text (escaped, self-contained) and as Chromium draws it.

Chromium missing is a failure, not a skip, unless ASSIST_SKIP_BROWSER=1.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assist import load_rules
from assist.cli import main
from assist.html_report import render_html
from assist.replay import replay

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("ASSIST_CHROMIUM", "/usr/bin/chromium")
EVIL = '<img src=x onerror="window.pwned=1"><b>bold</b> & "quotes"'


def evil_call(tmp_path: Path) -> Path:
    """A call whose text, agent id and call id are markup; the agent's turn raises avoid-policy."""
    cid = 'x"><script>window.pwned=1</script>'
    events = [
        {"type": "call.start", "call_id": cid, "agent_id": "<i>a7</i>", "lang": "en", "t_ms": 0},
        {"type": "utterance", "call_id": cid, "speaker": "customer", "text": EVIL, "start_ms": 0, "end_ms": 3000},
        {"type": "utterance", "call_id": cid, "speaker": "agent", "text": "It's company policy. " + EVIL,
         "start_ms": 3500, "end_ms": 6000},
        {"type": "call.end", "call_id": cid, "t_ms": 7000},
    ]
    path = tmp_path / "evil.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


# -- the page as text ----------------------------------------------------------------------------------
def test_every_text_is_escaped_and_nothing_is_fetched(tmp_path: Path) -> None:
    page = render_html(replay([evil_call(tmp_path)], load_rules()))
    assert "<img" not in page and "<b>bold" not in page and "<i>a7" not in page
    assert "<script>window" not in page
    assert ("&lt;img src=x onerror=&quot;window.pwned=1&quot;&gt;&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quotes&quot;"
            in page)
    assert page.count("<script>") == 1  # ours, inline
    assert not re.search(r'(src|href)="(?!#)', page)  # no external resource of any kind
    assert "@import" not in page and "url(" not in page
    assert "avoid-policy" in page


def test_cli_writes_the_page_alongside_the_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.html"
    assert main(["replay", "--json", "--html", str(out), str(EXAMPLES / "feedback_en.jsonl")]) == 0
    captured = capsys.readouterr()
    assert all(json.loads(line)["kind"] for line in captured.out.splitlines())
    assert f"wrote {out}" in captured.err
    page = out.read_text(encoding="utf-8")
    assert "call feedback-en-1" in page
    assert "closed in the sidebar (dismiss)" in page  # acknowledge-emotion, dismissed in examples/feedback_en.jsonl
    assert "agent clicked “helpful” on acknowledge-before-apology" in page


def test_cli_writes_the_page_even_when_strict_stops_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = (EXAMPLES / "demo_en.jsonl").read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join([*lines[:3], "{not json", *lines[3:]]) + "\n", encoding="utf-8")
    out = tmp_path / "run.html"
    assert main(["replay", "--strict", "--html", str(out), str(bad)]) == 1
    page = out.read_text(encoding="utf-8")
    assert "1 problem(s) in the input" in page and "bad.jsonl:4" in page


# -- the page in Chromium -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if os.environ.get("ASSIST_SKIP_BROWSER") == "1":
        pytest.skip("ASSIST_SKIP_BROWSER=1: browser tests not run")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it (apt-get install -y chromium fonts-noto-cjk), "
                    "point ASSIST_CHROMIUM at it, or set ASSIST_SKIP_BROWSER=1 to skip the browser tests",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True, timeout=30_000)
        yield b
        b.close()


def open_page(browser: Any, html: Path) -> tuple[Any, list[str], list[str]]:
    """A desktop-sized page that refuses every request but the file itself (the page must be self-contained);
    also returns the lists of refused requests and JavaScript errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5000)
    fetched: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url == html.as_uri():
            route.continue_()
        else:
            fetched.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    return page, fetched, errors


def replay_html(tmp_path: Path, *names: str) -> Path:
    out = tmp_path / "replay.html"
    assert main(["replay", "--html", str(out), *(str(EXAMPLES / n) for n in names)]) == 0
    return out


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"replay_html_{name}.png"), full_page=True)


def test_prompts_and_both_speakers_are_visible(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page, fetched, errors = open_page(browser, replay_html(tmp_path, "feedback_en.jsonl"))
    call = page.locator("section.call")
    expect(call.locator(".u.customer").first).to_contain_text("my broadband has been down since Monday")
    expect(call.locator(".u.agent").first).to_contain_text("I'm sorry about that. Can I have your account number")
    card = call.locator(".card", has_text="acknowledge-before-apology")
    expect(card).to_be_visible()
    expect(card.locator(".say")).to_contain_text("Name the feeling first")
    expect(card.locator(".fate")).to_contain_text("resolved by the turn at 00:19.0, 13.6 s after the prompt")
    expect(call.locator(".card", has_text="acknowledge-emotion").locator(".fate")).to_contain_text(
        "closed in the sidebar (dismiss)")
    expect(call.locator(".card.warn")).to_have_count(4)
    expect(call.locator("svg circle").first).to_be_attached()
    expect(call.locator(".summary")).to_contain_text("15 utterances · top type angry")
    # the two speakers sit on opposite sides of the conversation column
    cust, agent = call.locator(".u.customer").first.bounding_box(), call.locator(".u.agent").first.bounding_box()
    assert cust["x"] < agent["x"]
    # "only moments with prompts" hides the turns that raised nothing
    page.locator("#prompts-only").check()
    expect(call.locator(".u", has_text="What is?")).to_be_hidden()
    expect(card).to_be_visible()
    page.locator("#prompts-only").uncheck()
    assert fetched == [] and errors == []
    shoot(page, "feedback_en")
    page.context.close()


def test_chinese_text_is_drawn_in_a_cjk_font(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page, fetched, errors = open_page(browser, replay_html(tmp_path, "know_it_all_zh.txt"))
    call = page.locator("section.call")
    expect(call).to_have_attribute("lang", "zh")
    expect(call.locator(".u.customer").first).to_contain_text("我在网上查过了")
    expect(call.locator(".u.agent").first).to_contain_text("这个是公司规定")
    expect(call.locator(".card", has_text="tip-know-it-all").locator(".fate")).to_contain_text("expired (superseded)")
    say = call.locator(".card", has_text="avoid-policy").locator(".say")
    expect(say).to_be_visible()
    # Ask Chromium which font actually drew the glyphs: a CJK face, not a fallback box.
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    for selector in (".card .say", ".u.customer"):
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        assert any("CJK" in f["familyName"] for f in fonts), (selector, fonts)
    assert fetched == [] and errors == []
    shoot(page, "know_it_all_zh")
    page.context.close()


def test_markup_in_the_transcript_stays_text(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    out = tmp_path / "evil.html"
    assert main(["replay", "--json", "--html", str(out), str(evil_call(tmp_path))]) == 0
    page, fetched, errors = open_page(browser, out)
    expect(page.locator(".u.customer")).to_have_text("customer" + EVIL)
    assert page.evaluate("window.pwned") is None
    assert page.locator("section.call img, section.call b, section.call i").count() == 0
    assert fetched == [] and errors == []
    page.context.close()


def test_missing_chromium_fails_clearly_and_skips_only_when_asked() -> None:
    import subprocess
    import sys

    one = "tests/test_html_report.py::test_markup_in_the_transcript_stays_text"
    clean = {k: v for k, v in os.environ.items() if k not in ("ASSIST_CHROMIUM", "ASSIST_SKIP_BROWSER")}

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", one], cwd=ROOT,
                              env={**clean, "ASSIST_CHROMIUM": "/nonexistent/chromium", **env},
                              capture_output=True, text=True, timeout=120)

    failed = run()
    assert failed.returncode != 0, failed.stdout
    assert "Chromium not found at /nonexistent/chromium" in failed.stdout
    assert "ASSIST_SKIP_BROWSER=1" in failed.stdout
    skipped = run(ASSIST_SKIP_BROWSER="1")
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
