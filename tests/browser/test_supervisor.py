"""The supervisor board's rendering contract, driven by scripted /supervisor messages (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from .browser_harness import SUPERVISOR_TOKEN, WAIT_MS, ScriptedServer, go_offline, prompt, view


def abuse(pid: str, call_id: str, text: str, t_ms: int = 5000) -> dict[str, Any]:
    msg = prompt(pid, "Abusive language: stay calm, don't argue back.", "urgent", call_id=call_id, t_ms=t_ms,
                 rule="tip-abusive", why="Insults or threats - supervisor alerted", supervisor=True)
    msg["evidence"] = [{"speaker": "customer", "text": text, "t_ms": t_ms}]
    return msg


def open_board(page: Page, scripted: ScriptedServer) -> None:
    page.set_viewport_size({"width": 1100, "height": 600})
    page.goto(scripted.url("/supervisor", SUPERVISOR_TOKEN))
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "online")
    scripted.wait_connected("supervisor")


def test_state_then_alerts_newest_first(page: Page, scripted: ScriptedServer, shot: Any) -> None:
    scripted.state["supervisor"]["calls"] = [
        view("c1", prompts=[abuse("a1", "c1", "You're a useless idiot!")]),
        {**view("c2", lang="zh-CN"), "agent_id": "a8"},
    ]
    open_board(page, scripted)
    expect(page.get_by_test_id("call-row")).to_have_count(2)
    expect(page.locator("[data-call-id=c1] [data-testid=urgent-count]")).to_have_text("1")
    expect(page.locator("[data-call-id=c2] [data-testid=call-agent]")).to_have_text("a8")

    scripted.push(abuse("a2", "c2", "你们这帮骗子，我要去告你们！"),
                  prompt("w1", "Not an alert.", "warn", call_id="c2"), to="supervisor")
    alerts = page.get_by_test_id("alert")
    expect(alerts).to_have_count(2)
    expect(alerts.nth(0)).to_have_attribute("data-id", "a2")
    expect(alerts.nth(0).get_by_test_id("alert-evidence").locator("q")).to_have_attribute("lang", "zh-CN")
    expect(alerts.nth(1)).to_have_attribute("data-id", "a1")
    expect(page.locator("[data-call-id=c2] [data-testid=open-count]")).to_have_text("2")
    expect(page.locator("[data-call-id=c2] [data-testid=urgent-count]")).to_have_text("1")
    expect(page.get_by_test_id("announce-urgent")).to_contain_text("c2")
    shot(page)


def test_prompts_close_and_calls_leave(page: Page, scripted: ScriptedServer) -> None:
    scripted.state["supervisor"]["calls"] = [view("c1", prompts=[abuse("a1", "c1", "idiot")]), view("c2")]
    open_board(page, scripted)
    scripted.push({"kind": "resolved", "call_id": "c1", "t_ms": 9000, "id": "a1", "rule": "tip-abusive",
                   "by": {"speaker": "agent", "text": "I want to help, but", "t_ms": 9000}},
                  {"kind": "classification", "call_id": "c2", "t_ms": 9000, "types": {"impatient": 0.7},
                   "top": "impatient", "evidence": []}, to="supervisor")
    expect(page.locator("[data-call-id=c1] [data-testid=urgent-count]")).to_have_text("0")
    expect(page.locator("[data-testid=alert][data-id=a1]")).to_have_attribute("data-state", "closed")
    expect(page.locator("[data-call-id=c2] [data-testid=call-type]")).to_have_text("Impatient")

    scripted.push({"kind": "summary", "call_id": "c1", "t_ms": 60000, "types": {}, "top": None, "prompts": {},
                   "resolved": {}, "checklist": {}, "utterances": 3},
                  {"kind": "call", "call_id": "c2", "agent_id": "a7", "lang": "en", "t_ms": 60000,
                   "status": "ended"}, to="supervisor")
    expect(page.get_by_test_id("call-row")).to_have_count(0)
    expect(page.get_by_test_id("calls-empty")).to_be_visible()
    # The alert stays in the list, marked closed, so a supervisor who looks away does not miss it.
    expect(page.get_by_test_id("alert")).to_have_count(1)


def test_offline_then_back(page: Page, scripted: ScriptedServer, shot: Any) -> None:
    scripted.state["supervisor"]["calls"] = [view("c1")]
    open_board(page, scripted)
    go_offline(page, scripted, shot)
    status = page.get_by_test_id("status")
    scripted.state["supervisor"]["calls"] = [view("c9")]
    scripted.refuse = False
    expect(status).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    expect(page.get_by_test_id("call-row")).to_have_count(1)
    expect(page.get_by_test_id("call-row")).to_have_attribute("data-call-id", "c9")
