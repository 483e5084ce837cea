"""The pages against the real AssistServer: a call streamed into /ingest shows up in the browser."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from .browser_harness import AGENT2_TOKEN, SUPERVISOR_TOKEN, RealServer, call, say


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "online")


def test_sidebar_shows_prompt_dismisses_it_and_renders_chinese(page: Page, real: RealServer,
                                                               shot: Any) -> None:
    open_page(page, real.url("/"))
    expect(page.get_by_test_id("call-id")).to_have_text("No call in progress")

    real.ingest(*call("en-1", "a7", "en",
                      ("customer", "This is ridiculous, I've been waiting two weeks!"),
                      ("agent", "I'm sorry. Can I have your order number?")))
    expect(page.get_by_test_id("call-id")).to_have_text("en-1")
    wanted = say("acknowledge-before-apology", "en")
    assert wanted.startswith("Name the feeling first")
    card = page.get_by_test_id("prompt").filter(has=page.get_by_test_id("prompt-say").get_by_text(wanted))
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("data-severity", "warn")
    expect(card.get_by_test_id("prompt-severity")).to_have_text("Warning")
    expect(card.get_by_test_id("prompt-why")).to_contain_text("before the customer's feeling was")
    expect(page.get_by_test_id("customer-type")).to_contain_text("Angry")
    shot(page)

    shown = page.get_by_test_id("prompt").count()
    card.get_by_test_id("dismiss").click()
    expect(card).to_have_count(0)
    # The server took the dismissal: a second sidebar of the agent joins with the other open prompts only.
    second = page.context.new_page()
    open_page(second, real.url("/"))
    expect(second.get_by_test_id("call-id")).to_have_text("en-1")
    expect(second.get_by_test_id("prompt")).to_have_count(shown - 1)
    expect(second.get_by_test_id("prompt-say").get_by_text(wanted)).to_have_count(0)
    # "Used it" (ack) on one sidebar closes the prompt on the other too.
    top = second.get_by_test_id("prompt").first
    top_id = top.get_attribute("data-id")
    top.get_by_test_id("ack").click()
    expect(page.locator(f"[data-testid=prompt][data-id='{top_id}']")).to_have_count(0)
    second.close()

    real.ingest({"type": "call.end", "call_id": "en-1", "t_ms": 20_000})
    expect(page.get_by_test_id("summary")).to_be_visible()
    expect(page.get_by_test_id("call-id")).to_have_text("No call in progress")
    expect(page.locator("[data-item=acknowledged_emotion]")).to_contain_text("Missed")
    expect(page.get_by_test_id("prompt")).to_have_count(0)  # the ended call's prompts faded out
    shot(page, "summary")

    real.ingest(*call("zh-1", "a7", "zh-CN",
                      ("customer", "你们太过分了，半夜打电话问我还要不要房间！"),
                      ("agent", "对不起，我会跟当班的同事说的。")))
    zh = say("acknowledge-before-apology", "zh")
    zh_say = page.get_by_test_id("prompt-say").get_by_text(zh)
    expect(zh_say).to_have_count(1)
    expect(zh_say).to_have_attribute("lang", re.compile(r"^zh"))  # the server reports the pack's language
    expect(page.get_by_test_id("call-id")).to_have_text("zh-1")
    expect(page.get_by_test_id("summary")).to_be_hidden()  # the next call replaces the last one's summary
    expect(page.locator("[data-testid=prompt][data-state=leaving]")).to_have_count(0)  # en-1's are gone
    shot(page, "zh")


def test_other_agents_calls_stay_off_the_sidebar(page: Page, real: RealServer) -> None:
    open_page(page, real.url("/", AGENT2_TOKEN))
    real.ingest(*call("a7-only", "a7", "en", ("customer", "This is ridiculous, I've been waiting two weeks!"),
                      ("agent", "I'm sorry. Can I have your order number?")))
    real.ingest(*call("a8-call", "a8", "en", ("customer", "Hello, I'd like to check my order.")))
    expect(page.get_by_test_id("call-id")).to_have_text("a8-call")
    expect(page.get_by_test_id("prompt")).to_have_count(0)


def test_supervisor_sees_calls_and_abuse_alert(page: Page, real: RealServer, shot: Any) -> None:
    page.set_viewport_size({"width": 1100, "height": 700})
    real.ingest(*call("calm-1", "a8", "zh-CN", ("customer", "你好，我想问一下订单什么时候到。")))
    open_page(page, real.url("/supervisor", SUPERVISOR_TOKEN))
    expect(page.locator("[data-testid=call-row][data-call-id=calm-1]")).to_have_count(1)

    real.ingest(*call("abuse-1", "a7", "en", ("customer", "You're a useless idiot, I'll see you in court!")))
    row = page.locator("[data-testid=call-row][data-call-id=abuse-1]")
    expect(row.get_by_test_id("call-agent")).to_have_text("a7")
    expect(row.get_by_test_id("call-lang")).to_have_text("en")
    expect(row.get_by_test_id("call-type")).to_have_text("Abusive")
    expect(row.get_by_test_id("urgent-count")).to_have_text("1")
    alert = page.get_by_test_id("alert").first
    expect(alert).to_have_attribute("data-call-id", "abuse-1")
    expect(alert.get_by_test_id("alert-evidence")).to_contain_text("useless idiot")
    expect(page.get_by_test_id("call-count")).to_have_text("2")
    shot(page)

    real.ingest({"type": "call.end", "call_id": "abuse-1", "t_ms": 10_000})
    expect(row).to_have_count(0)
    expect(page.get_by_test_id("call-count")).to_have_text("1")
    expect(alert).to_have_attribute("data-state", "closed")
    shot(page, "ended")


def test_a_transfer_moves_the_call_to_the_new_agents_sidebar_with_its_state(page: Page, real: RealServer,
                                                                             shot: Any) -> None:
    first = page
    open_page(first, real.url("/"))
    second = page.context.new_page()
    open_page(second, real.url("/", AGENT2_TOKEN))
    real.ingest(*call("tr-1", "a7", "en", ("customer", "This is ridiculous, I've been waiting two weeks!"),
                      ("agent", "I'm sorry. Can I have your order number?")))
    wanted = say("acknowledge-before-apology", "en")
    expect(first.get_by_test_id("prompt-say").get_by_text(wanted)).to_have_count(1)
    expect(second.get_by_test_id("call-id")).to_have_text("No call in progress")
    open_prompts = first.get_by_test_id("prompt").count()

    real.ingest({"type": "call.transfer", "call_id": "tr-1", "agent_id": "a8", "t_ms": 8000})
    # the first agent sees the call leave; the second gets it with the customer type and open prompts
    expect(first.get_by_test_id("notice")).to_contain_text("Call tr-1 was transferred to agent a8")
    expect(first.get_by_test_id("call-id")).to_have_text("No call in progress")
    expect(first.locator("[data-testid=prompt][data-state=open]")).to_have_count(0)
    expect(second.get_by_test_id("call-id")).to_have_text("tr-1")
    expect(second.get_by_test_id("customer-type")).to_contain_text("Angry")
    expect(second.get_by_test_id("prompt")).to_have_count(open_prompts)
    expect(second.get_by_test_id("prompt-say").get_by_text(wanted)).to_have_count(1)
    shot(second, "transferred-in")

    # live updates now reach the new agent only, and its feedback is taken
    real.ingest({"type": "utterance", "call_id": "tr-1", "speaker": "customer", "start_ms": 9000,
                 "end_ms": 12000, "text": "You people never call back, this is the third time I'm calling!"})
    card = second.get_by_test_id("prompt").first
    card_id = card.get_attribute("data-id")
    card.get_by_test_id("ack").click()
    expect(second.locator(f"[data-testid=prompt][data-id='{card_id}']")).to_have_count(0)
    real.ingest({"type": "call.end", "call_id": "tr-1", "t_ms": 20_000})
    expect(second.get_by_test_id("summary")).to_be_visible()
    expect(first.get_by_test_id("summary")).to_be_hidden()
    second.close()


def test_a_call_started_without_an_agent_reaches_the_agent_it_is_assigned_to(page: Page, real: RealServer) -> None:
    open_page(page, real.url("/", AGENT2_TOKEN))
    real.ingest({"type": "call.start", "call_id": "ivr-1", "lang": "en", "t_ms": 0},
                {"type": "utterance", "call_id": "ivr-1", "speaker": "customer", "start_ms": 0, "end_ms": 3000,
                 "text": "This is ridiculous, I've been waiting two weeks!"})
    expect(page.get_by_test_id("call-id")).to_have_text("No call in progress")  # in the queue: nobody's yet
    real.ingest({"type": "call.transfer", "call_id": "ivr-1", "agent_id": "a8", "t_ms": 4000})
    expect(page.get_by_test_id("call-id")).to_have_text("ivr-1")
    expect(page.get_by_test_id("customer-type")).to_contain_text("Angry")
