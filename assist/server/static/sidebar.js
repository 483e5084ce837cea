// The agent's sidebar: renders the /agent stream (docs/protocol.md). Newest prompt on top.
"use strict";

(() => {
  const { el, typeLabel, typeLabelInCallLang, severityLabel, langOf, clock } = Live;
  const DONE_MS = 2500;     // how long a self-resolved prompt shows "Done" before fading
  const FADE_MS = 600;      // keep in step with the .leaving transition in style.css
  const SUMMARY_MS = 30000; // how long the end-of-call summary stays up

  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  const list = $("prompts");
  const calls = new Map();   // call_id → CallView-like {call_id, lang, classification, ended}
  const prompts = new Map(); // prompt id → {msg, node}
  let currentCall = null;
  let me = null;             // this sidebar's agent id (from the state message)
  let summaryTimer = null;

  const link = Live.connect({ path: "/agent", statusNode: $("status"), onMessage: handle });

  const handlers = {
    state(msg) {
      me = msg.agent_id;
      for (const { node } of prompts.values()) node.remove();
      prompts.clear();
      calls.clear();
      currentCall = null;
      const open = [];
      for (const view of msg.calls || []) {
        calls.set(view.call_id, { ...view, ended: false });
        currentCall = view.call_id;
        open.push(...(view.prompts || []));
      }
      open.sort((a, b) => a.t_ms - b.t_ms).forEach((p) => addPrompt(p, false));
      drawCall();
    },
    call(msg) {
      if (msg.status === "started") {
        calls.set(msg.call_id, { ...(calls.get(msg.call_id) || {}), ...msg, ended: false });
        currentCall = msg.call_id;
        $("summary").hidden = true; // the last call's wrap-up is over once the next one rings
      } else if (msg.status === "ended") {
        endCall(msg.call_id);
      } else if (msg.status === "transferred" && msg.agent_id === me) {
        takeOver(msg.call || msg);
      } else if (msg.status === "transferred") {
        endCall(msg.call_id);
        notice(`Call ${msg.call_id} was transferred to agent ${msg.agent_id}.`);
      }
      drawCall();
    },
    prompt(msg) {
      addPrompt(msg, true);
    },
    resolved(msg) {
      const entry = prompts.get(msg.id);
      if (!entry) return;
      entry.node.dataset.state = "done";
      entry.node.querySelector(".badge-done").hidden = false;
      setTimeout(() => removePrompt(msg.id), DONE_MS);
    },
    expired(msg) {
      removePrompt(msg.id);
    },
    classification(msg) {
      const call = calls.get(msg.call_id) || { call_id: msg.call_id };
      call.classification = msg;
      calls.set(msg.call_id, call);
      if (!currentCall) currentCall = msg.call_id;
      drawCall();
    },
    summary(msg) {
      showSummary(msg);
      endCall(msg.call_id);
      drawCall();
    },
    feedback(msg) {
      if (msg.action === "dismiss" || msg.action === "ack") removePrompt(msg.id);
    },
    dropped(msg) {
      notice(`${msg.count} lower-priority updates were skipped to keep up.`);
    },
    warning(msg) {
      notice(msg.message || "This call is not fully covered by the rules.");
    },
    error(msg) {
      console.warn("assist server error:", msg);
      if (!msg.rule) notice(msg.message || "The server refused the last action.");
    },
  };

  function handle(msg) {
    const handler = msg && handlers[msg.kind];
    if (handler) handler(msg);
  }

  function callLang(callId) {
    const call = calls.get(callId);
    return call ? call.lang : null;
  }

  function addPrompt(msg, announce) {
    if (prompts.has(msg.id)) return;
    const lang = langOf(callLang(msg.call_id), msg.say);
    const node = promptNode(msg, lang);
    prompts.set(msg.id, { msg, node });
    list.prepend(node);
    syncEmpty();
    if (announce) {
      const region = msg.severity === "urgent" ? $("announce-urgent") : $("announce");
      region.textContent = "";
      region.append(`${severityLabel(msg.severity)}: `, el("span", { lang }, msg.say));
    }
  }

  function promptNode(msg, lang) {
    const severity = ["urgent", "warn", "info"].includes(msg.severity) ? msg.severity : "info";
    const id = msg.id;
    const heard = (msg.evidence || []).filter((e) => e && e.text);
    const manyCalls = [...calls.values()].filter((c) => !c.ended).length > 1;
    return el("li", { class: `prompt sev-${severity}`, "data-testid": "prompt", "data-id": id,
                      "data-severity": severity, "data-rule": msg.rule, "data-state": "open" },
      el("div", { class: "prompt-head" },
        el("span", { class: "severity", "data-testid": "prompt-severity" },
          el("span", { class: "sev-icon", "aria-hidden": "true" }), severityLabel(severity)),
        el("span", { class: "badge-done", "data-testid": "prompt-done", hidden: true }, "✓ Done"),
        manyCalls ? el("span", { class: "muted" }, msg.call_id) : null,
        el("span", { class: "muted when" }, clock(msg.t_ms)),
        el("button", { type: "button", class: "icon dismiss", "data-testid": "dismiss",
                       "aria-label": "Dismiss this suggestion", title: "Dismiss (Esc)",
                       onclick: () => feedback(id, "dismiss") }, "✕")),
      el("p", { class: "say", "data-testid": "prompt-say", lang }, msg.say),
      el("p", { class: "why", "data-testid": "prompt-why", lang }, msg.why),
      heard.length ? el("p", { class: "heard", "data-testid": "prompt-evidence" },
        el("span", { class: "muted" }, "Heard: "),
        ...heard.map((e) => el("q", { lang: langOf(callLang(msg.call_id), e.text) }, e.text))) : null,
      el("div", { class: "actions" },
        el("button", { type: "button", "data-testid": "ack", onclick: () => feedback(id, "ack"),
                       "aria-label": "I used this suggestion" }, "Used it"),
        el("button", { type: "button", "data-testid": "helpful", "aria-pressed": "false",
                       onclick: (ev) => rate(ev, id, "helpful") }, "Helpful"),
        el("button", { type: "button", "data-testid": "not-helpful", "aria-pressed": "false",
                       onclick: (ev) => rate(ev, id, "not_helpful") }, "Not helpful")));
  }

  function feedback(id, action) {
    link.send({ type: "feedback", id, action });
    if (action === "dismiss" || action === "ack") removePrompt(id);
  }

  function rate(ev, id, action) {
    link.send({ type: "feedback", id, action });
    const actions = ev.currentTarget.parentElement;
    for (const button of actions.querySelectorAll("[aria-pressed]")) {
      button.setAttribute("aria-pressed", String(button === ev.currentTarget));
    }
  }

  function removePrompt(id) {
    const entry = prompts.get(id);
    if (!entry) return;
    prompts.delete(id);
    const { node } = entry;
    if (node.contains(document.activeElement)) focusNext(node);
    node.dataset.state = node.dataset.state === "done" ? "done" : "leaving";
    node.classList.add("leaving");
    setTimeout(() => { node.remove(); syncEmpty(); }, FADE_MS);
  }

  // Keep keyboard users in the list when the prompt they were on goes away.
  function focusNext(node) {
    const sibling = node.nextElementSibling || node.previousElementSibling;
    const target = sibling && sibling.querySelector("[data-testid=dismiss]");
    if (target) target.focus();
  }

  // A call transferred to this agent: drawn from its snapshot (customer type, prompts still open).
  function takeOver(view) {
    calls.set(view.call_id, { ...view, ended: false });
    currentCall = view.call_id;
    $("summary").hidden = true;
    [...(view.prompts || [])].sort((a, b) => a.t_ms - b.t_ms).forEach((p) => addPrompt(p, false));
  }

  function endCall(callId) {
    const call = calls.get(callId);
    if (call) call.ended = true;
    for (const [id, { msg }] of prompts) if (msg.call_id === callId) removePrompt(id);
    if (currentCall === callId) {
      const live = [...calls.values()].filter((c) => !c.ended);
      currentCall = live.length ? live[live.length - 1].call_id : null;
    }
  }

  function drawCall() {
    $("call-id").textContent = currentCall || "No call in progress";
    $("call-label").hidden = !currentCall;
    const call = currentCall ? calls.get(currentCall) : null;
    const cls = call && call.classification;
    const section = $("customer");
    if (!cls || !cls.top) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    const label = $("customer-type");
    label.replaceChildren(typeLabel(cls.top));
    const score = cls.types && cls.types[cls.top];
    if (typeof score === "number") label.append(el("span", { class: "muted score" }, ` ${Math.round(score * 100)}%`));
    const own = typeLabelInCallLang(cls.top, call.lang);
    if (own) label.append(" ", el("span", { lang: call.lang }, own));
    $("type-evidence").replaceChildren(...(cls.evidence || []).map((e) =>
      el("li", { lang: langOf(call.lang, e.text) }, el("q", {}, e.text))));
  }

  const CHECKLIST_LABELS = {
    acknowledged_emotion: "Acknowledged the customer's feelings",
    paraphrased: "Restated the problem to confirm it",
    summarized_with_time: "Summed up next steps with a time",
    checked_satisfaction: "Checked the solution suits the customer",
  };

  function showSummary(msg) {
    const panel = $("summary");
    const count = (obj) => Object.values(obj || {}).reduce((a, b) => a + b, 0);
    const type = msg.top ? ` · customer: ${typeLabel(msg.top)}` : "";
    $("summary-meta").textContent =
      `Call ${msg.call_id}${type} · ${count(msg.prompts)} suggestions, ${count(msg.resolved)} done by you`;
    $("checklist").replaceChildren(...Object.entries(msg.checklist || {}).map(([item, done]) => {
      const state = done === true ? "done" : done === false ? "missed" : "n/a";
      const mark = { done: "✓ Done", missed: "✗ Missed", "n/a": "– Not needed" }[state];
      const label = CHECKLIST_LABELS[item] || item.replace(/_/g, " ");
      return el("li", { "data-testid": "checklist-item", "data-item": item, "data-state": state },
        el("span", { class: "mark" }, mark), el("span", {}, label));
    }));
    panel.hidden = false;
    clearTimeout(summaryTimer);
    summaryTimer = setTimeout(() => { panel.hidden = true; }, SUMMARY_MS);
  }

  function notice(text) {
    const node = $("notice");
    node.textContent = text;
    node.hidden = false;
    setTimeout(() => { node.hidden = true; }, 8000);
  }

  function syncEmpty() {
    $("empty").hidden = list.querySelector("[data-state=open], [data-state=done]") !== null;
  }

  $("summary-close").addEventListener("click", () => { $("summary").hidden = true; });

  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape" || ev.defaultPrevented) return;
    const top = list.querySelector("[data-state=open]");
    if (top) {
      ev.preventDefault();
      feedback(top.dataset.id, "dismiss");
    }
  });
})();
