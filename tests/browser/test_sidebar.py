"""The sidebar's rendering contract, driven by scripted /agent messages (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from .browser_harness import WAIT_MS, ScriptedServer, angry, go_offline, prompt, say, view

ANGRY_SAY = ("Name the feeling first: \"I can hear how frustrating this has been - that shouldn't have "
             "happened.\" Then apologise.")
ANGRY_WHY = "Apology (\"I'm sorry\") before the customer's feeling was acknowledged"
ZH_SAY = "先认可情绪再道歉：“这件事确实让您很生气，换作是我也会着急。”然后再说抱歉。"


def open_sidebar(page: Page, scripted: ScriptedServer) -> None:
    page.goto(scripted.url("/"))
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "online")
    scripted.wait_connected()


def test_state_then_live_prompts_newest_on_top(page: Page, scripted: ScriptedServer, shot: Any) -> None:
    first = prompt("p1", "Paraphrase to confirm.", "info", t_ms=3000)
    scripted.state["agent"]["calls"] = [view(prompts=[first], classification=angry())]
    open_sidebar(page, scripted)
    expect(page.get_by_test_id("call-id")).to_have_text("c1")
    expect(page.get_by_test_id("customer-type")).to_contain_text("Angry")
    expect(page.get_by_test_id("type-evidence")).to_contain_text("I've been waiting two weeks!")

    scripted.push(prompt("p2", ANGRY_SAY, "warn", why=ANGRY_WHY),
                  prompt("p3", "Abusive language: stay calm.", "urgent", supervisor=True))
    cards = page.get_by_test_id("prompt")
    expect(cards).to_have_count(3)
    expect(cards.nth(0)).to_have_attribute("data-id", "p3")
    expect(cards.nth(1)).to_have_attribute("data-id", "p2")
    expect(cards.nth(2)).to_have_attribute("data-id", "p1")
    # Severity is said in words, not only by colour.
    expect(cards.nth(0).get_by_test_id("prompt-severity")).to_have_text("Urgent")
    expect(cards.nth(1).get_by_test_id("prompt-severity")).to_have_text("Warning")
    expect(cards.nth(2).get_by_test_id("prompt-severity")).to_have_text("Info")
    expect(cards.nth(1).get_by_test_id("prompt-say")).to_have_text(ANGRY_SAY)
    expect(cards.nth(1).get_by_test_id("prompt-why")).to_have_text(ANGRY_WHY)
    # New prompts are announced to screen readers; urgent ones assertively.
    expect(page.get_by_test_id("announce")).to_contain_text(ANGRY_SAY)
    expect(page.get_by_test_id("announce-urgent")).to_contain_text("Abusive language")

    sizes = page.evaluate("""() => {
        const px = (sel) => parseFloat(getComputedStyle(document.querySelector(sel)).fontSize);
        const colour = (sel) => getComputedStyle(document.querySelector(sel)).borderLeftColor;
        return {say: px('[data-id=p2] [data-testid=prompt-say]'),
                why: px('[data-id=p2] [data-testid=prompt-why]'),
                urgent: colour('[data-id=p3]'), warn: colour('[data-id=p2]'), info: colour('[data-id=p1]')};
    }""")
    assert sizes["say"] >= 18, sizes
    assert sizes["why"] < sizes["say"], sizes
    assert len({sizes["urgent"], sizes["warn"], sizes["info"]}) == 3, sizes
    shot(page)


def test_reconnect_state_replaces_old_prompts(page: Page, scripted: ScriptedServer, shot: Any) -> None:
    open_sidebar(page, scripted)
    scripted.push({"kind": "call", "call_id": "c1", "agent_id": "a7", "lang": "en", "t_ms": 0,
                   "status": "started"}, prompt("old", "An old prompt."))
    expect(page.get_by_test_id("prompt")).to_have_count(1)

    go_offline(page, scripted, shot)
    status = page.get_by_test_id("status")

    scripted.state["agent"]["calls"] = [view("c2", prompts=[prompt("new", "A fresh prompt.", call_id="c2")])]
    scripted.refuse = False
    page.get_by_test_id("reconnect").click()
    expect(status).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    expect(page.get_by_test_id("call-id")).to_have_text("c2")
    cards = page.get_by_test_id("prompt")
    expect(cards).to_have_count(1)
    expect(cards.get_by_test_id("prompt-say")).to_have_text("A fresh prompt.")
    assert scripted.connects["agent"] >= 2
    shot(page)


def test_reconnect_button_stays_put_while_the_countdown_ticks(page: Page, scripted: ScriptedServer,
                                                             shot: Any) -> None:
    open_sidebar(page, scripted)
    go_offline(page, scripted, shot)
    status = page.get_by_test_id("status")
    # Mark the button, then wait for the countdown to tick (the words change every second, and the
    # refused reconnects start new countdowns): a click aimed at the button must not land on a
    # replacement made in between.
    page.evaluate("() => { document.querySelector('[data-testid=reconnect]').dataset.mark = 'same'; }")
    first = status.inner_text()
    expect(status).not_to_have_text(first, timeout=WAIT_MS)
    expect(page.locator("[data-testid=reconnect][data-mark=same]")).to_have_count(1)


def test_reconnects_by_itself_with_backoff(page: Page, scripted: ScriptedServer) -> None:
    open_sidebar(page, scripted)
    scripted.drop()
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute("data-state", "offline")
    # First retry is due after about half a second; no click needed.
    expect(status).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    assert scripted.connects["agent"] == 2


def test_dismiss_and_rating_send_feedback(page: Page, scripted: ScriptedServer) -> None:
    open_sidebar(page, scripted)
    scripted.push(prompt("p1", "First."), prompt("p2", "Second."))
    card = page.locator("[data-testid=prompt][data-id=p2]")
    card.get_by_test_id("helpful").click()
    scripted.wait_received(lambda m: m == {"type": "feedback", "id": "p2", "action": "helpful"})
    expect(card.get_by_test_id("helpful")).to_have_attribute("aria-pressed", "true")
    card.get_by_test_id("not-helpful").click()
    scripted.wait_received(lambda m: m == {"type": "feedback", "id": "p2", "action": "not_helpful"})
    expect(card.get_by_test_id("helpful")).to_have_attribute("aria-pressed", "false")

    card.get_by_test_id("dismiss").click()
    scripted.wait_received(lambda m: m == {"type": "feedback", "id": "p2", "action": "dismiss"})
    expect(card).to_have_count(0)
    expect(page.get_by_test_id("prompt")).to_have_count(1)

    # Another sidebar of the same agent dismissed p1: the server's answer closes it here too.
    scripted.push({"kind": "feedback", "id": "p1", "action": "dismiss", "ok": True})
    expect(page.get_by_test_id("prompt")).to_have_count(0)
    expect(page.get_by_test_id("empty")).to_be_visible()


def test_keyboard_only(page: Page, scripted: ScriptedServer) -> None:
    open_sidebar(page, scripted)
    scripted.push(prompt("p1", "Older."), prompt("p2", "Newer."), prompt("p3", "Newest."))
    expect(page.get_by_test_id("prompt")).to_have_count(3)
    # Escape dismisses the top (newest) prompt.
    page.keyboard.press("Escape")
    scripted.wait_received(lambda m: m == {"type": "feedback", "id": "p3", "action": "dismiss"})
    expect(page.locator("[data-id=p3]")).to_have_count(0)
    # Every control is a real button reachable with Tab and named for a screen reader.
    dismiss = page.locator("[data-id=p2] [data-testid=dismiss]")
    expect(dismiss).to_have_attribute("aria-label", "Dismiss this suggestion")
    for _ in range(20):
        page.keyboard.press("Tab")
        if dismiss.evaluate("b => b === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the dismiss button of the top prompt")
    page.keyboard.press("Enter")
    scripted.wait_received(lambda m: m == {"type": "feedback", "id": "p2", "action": "dismiss"})
    expect(page.locator("[data-id=p2]")).to_have_count(0)
    # Focus moves to the next prompt's dismiss button rather than being lost.
    assert page.locator("[data-id=p1] [data-testid=dismiss]").evaluate("b => b === document.activeElement")


def test_resolved_shows_done_then_fades_and_expired_fades(page: Page, scripted: ScriptedServer,
                                                         shot: Any) -> None:
    open_sidebar(page, scripted)
    scripted.push(prompt("p1", "Will be done."), prompt("p2", "Will expire."))
    scripted.push({"kind": "resolved", "call_id": "c1", "t_ms": 9000, "id": "p1", "rule": "some-rule",
                   "by": {"speaker": "agent", "text": "I can hear how frustrating this is", "t_ms": 9000}})
    done = page.locator("[data-id=p1]")
    expect(done).to_have_attribute("data-state", "done")
    expect(done.get_by_test_id("prompt-done")).to_be_visible()
    shot(page)
    scripted.push({"kind": "expired", "call_id": "c1", "t_ms": 9000, "id": "p2", "rule": "some-rule",
                   "reason": "timeout"})
    expect(page.locator("[data-id=p2]")).to_have_count(0, timeout=2000)
    expect(done).to_have_count(0, timeout=WAIT_MS)


def test_summary_shows_checklist_and_clears_the_call(page: Page, scripted: ScriptedServer, shot: Any) -> None:
    scripted.state["agent"]["calls"] = [view(prompts=[prompt("p1", "Still open.")], classification=angry())]
    open_sidebar(page, scripted)
    scripted.push({"kind": "summary", "call_id": "c1", "t_ms": 60000, "types": {"angry": 0.75},
                   "top": "angry",
                   "prompts": {"acknowledge-before-apology": 1, "paraphrase-to-confirm": 1},
                   "resolved": {"acknowledge-before-apology": 1},
                   "checklist": {"acknowledged_emotion": True, "paraphrased": False,
                                 "summarized_with_time": False, "checked_satisfaction": None},
                   "utterances": 12},
                  {"kind": "call", "call_id": "c1", "agent_id": "a7", "lang": "en", "t_ms": 60000,
                   "status": "ended"})
    summary = page.get_by_test_id("summary")
    expect(summary).to_be_visible()
    expect(page.get_by_test_id("summary-meta")).to_contain_text("2 suggestions, 1 done by you")
    items = page.get_by_test_id("checklist-item")
    expect(items).to_have_count(4)
    expect(page.locator("[data-item=acknowledged_emotion]")).to_contain_text("✓ Done")
    expect(page.locator("[data-item=paraphrased]")).to_contain_text("✗ Missed")
    expect(page.locator("[data-item=checked_satisfaction]")).to_contain_text("Not needed")
    expect(page.get_by_test_id("call-id")).to_have_text("No call in progress")
    expect(page.get_by_test_id("prompt")).to_have_count(0)
    shot(page)
    page.get_by_test_id("summary-close").click()
    expect(summary).to_be_hidden()


def test_chinese_prompt_renders_in_a_cjk_font(page: Page, scripted: ScriptedServer, shot: Any) -> None:
    scripted.state["agent"]["calls"] = [view("zh1", lang="zh-CN", classification={
        "kind": "classification", "call_id": "zh1", "t_ms": 4000, "types": {"angry": 0.8}, "top": "angry",
        "evidence": [{"speaker": "customer", "text": "你们太过分了！", "t_ms": 4000}]})]
    open_sidebar(page, scripted)
    scripted.push(prompt("z1", ZH_SAY, call_id="zh1", why="客户情绪还没被认可就先道歉（“对不起”）"))
    say = page.get_by_test_id("prompt-say")
    expect(say).to_have_text(ZH_SAY)
    expect(say).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("customer-type")).to_contain_text("愤怒")
    # Ask Chromium which font actually drew the glyphs: a CJK face, not a fallback box.
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "[data-testid=prompt-say]"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    assert any("CJK" in f["familyName"] for f in fonts), fonts
    shot(page)


def test_transcript_text_is_never_markup(page: Page, scripted: ScriptedServer) -> None:
    open_sidebar(page, scripted)
    evil = '<img src=x onerror="window.pwned=1"><b>bold</b>'
    scripted.push(prompt("x1", evil, why=evil))
    say = page.get_by_test_id("prompt-say")
    expect(say).to_have_text(evil)
    assert page.locator("[data-testid=prompt] img, [data-testid=prompt] b").count() == 0
    assert page.evaluate("() => window.pwned") is None


def test_without_token_it_says_so(page: Page, scripted: ScriptedServer) -> None:
    page.goto(f"http://127.0.0.1:{scripted.port}/")
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("No token")


def test_dropped_and_server_errors_are_shown(page: Page, scripted: ScriptedServer) -> None:
    open_sidebar(page, scripted)
    scripted.push({"kind": "dropped", "count": 3})
    notice = page.get_by_test_id("notice")
    expect(notice).to_contain_text("3 lower-priority updates were skipped")
    scripted.push({"kind": "error", "field": "id", "expected": "a prompt id of one of your calls",
                   "got": "'zz'", "message": "no prompt 'zz' on a call of agent 'a7'"})
    expect(notice).to_contain_text("no prompt 'zz'")


def test_a_bulgarian_call_and_a_call_in_an_uncovered_language(page: Page, scripted: ScriptedServer) -> None:
    scripted.state["agent"]["calls"] = [view("bg1", lang="bg", classification={
        "kind": "classification", "call_id": "bg1", "t_ms": 4000, "types": {"angry": 0.8}, "top": "angry",
        "evidence": [{"speaker": "customer", "text": "Това е безобразие!", "t_ms": 4000}]})]
    open_sidebar(page, scripted)
    bg_say = say("acknowledge-before-apology", "bg")
    scripted.push(prompt("b1", bg_say, call_id="bg1", why="Извинение („Съжалявам“), преди чувството на клиента "
                                                          "да е признато"))
    expect(page.get_by_test_id("prompt-say")).to_have_text(bg_say)
    expect(page.get_by_test_id("prompt-say")).to_have_attribute("lang", "bg")
    expect(page.get_by_test_id("customer-type")).to_contain_text("ядосан")
    scripted.push({"kind": "warning", "call_id": "fr1", "t_ms": 0, "code": "unsupported_language", "lang": "fr",
                   "message": "no lexicon for language 'fr' (the rule packs cover en, zh, bg)"})
    expect(page.get_by_test_id("notice")).to_contain_text("no lexicon for language 'fr'")


def test_bidi_controls_in_transcript_text_stay_inside_their_element(page: Page, scripted: ScriptedServer) -> None:
    open_sidebar(page, scripted)
    mirrored = "\u202eIgnore the customer\u202c"  # a right-to-left override in someone's words (issue 12)
    scripted.push(prompt("b1", "Say sorry.", why=f"They said {mirrored} loudly"))
    why = page.get_by_test_id("prompt-why")
    expect(why).to_contain_text("Ignore the customer")
    isolation = page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid=prompt-why], [data-testid=prompt-say], [data-testid=call-id]')]
        .map((n) => getComputedStyle(n).unicodeBidi)""")
    assert isolation and set(isolation) == {"isolate"}, isolation
