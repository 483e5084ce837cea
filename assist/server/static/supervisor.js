// The supervisor's board: every live call (/supervisor stream, docs/protocol.md) and an alert list
// for prompts flagged "supervisor": true (abusive customers), newest first.
"use strict";

(() => {
  const { el, typeLabel, langOf, clock } = Live;
  const MAX_ALERTS = 50;

  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  const tbody = $("calls").tBodies[0];
  const alertList = $("alerts");
  const calls = new Map();  // call_id → {call_id, agent_id, lang, t_ms, top, prompts: Map(id → prompt)}
  const alerts = new Map(); // prompt id → li

  Live.connect({ path: "/supervisor", statusNode: $("status"), onMessage: handle });

  const handlers = {
    state(msg) {
      showRules(msg.rules);
      calls.clear();
      alerts.clear();
      alertList.replaceChildren();
      for (const view of msg.calls || []) {
        const call = track(view);
        call.top = view.top;
        const open = [...(view.prompts || [])].sort((a, b) => a.t_ms - b.t_ms);
        for (const p of open) addPrompt(call, p, false);
      }
      draw();
    },
    call(msg) {
      if (msg.status === "started" || msg.status === "transferred") track(msg); // a transfer: the new agent
      else if (msg.status === "ended") endCall(msg.call_id);
      draw();
    },
    prompt(msg) {
      const call = calls.get(msg.call_id) || track({ call_id: msg.call_id });
      addPrompt(call, msg, true);
      draw();
    },
    resolved(msg) { closePrompt(msg.call_id, msg.id, "resolved"); },
    expired(msg) { closePrompt(msg.call_id, msg.id, "expired"); },
    feedback(msg) {
      if (msg.action === "dismiss" || msg.action === "ack") closePrompt(msg.call_id, msg.id, "dismissed by agent");
    },
    classification(msg) {
      const call = calls.get(msg.call_id);
      if (!call) return;
      call.top = msg.top;
      call.t_ms = Math.max(call.t_ms || 0, msg.t_ms || 0);
      draw();
    },
    summary(msg) { endCall(msg.call_id); draw(); },
    rules(msg) {
      showRules(msg.version);
      if (msg.ok === false) notice(msg.message);
    },
    dropped(msg) { notice(`${msg.count} lower-priority updates were skipped to keep up.`); },
    warning(msg) { notice(`${msg.call_id}: ${msg.message}`); },
  };

  function showRules(version) {
    $("rules-version").textContent = version ? `rules ${version}` : "";
  }

  function handle(msg) {
    const handler = msg && handlers[msg.kind];
    if (handler) handler(msg);
  }

  function track(view) {
    const old = calls.get(view.call_id);
    const { call_id, agent_id, lang, t_ms } = view;
    const call = old || { call_id, prompts: new Map(), top: null, t_ms: 0 };
    Object.assign(call, { agent_id: agent_id || call.agent_id, lang: lang || call.lang,
                          t_ms: Math.max(call.t_ms || 0, t_ms || 0) });
    calls.set(call_id, call);
    return call;
  }

  function addPrompt(call, msg, announce) {
    call.prompts.set(msg.id, msg);
    call.t_ms = Math.max(call.t_ms || 0, msg.t_ms || 0);
    if (msg.supervisor && !alerts.has(msg.id)) addAlert(call, msg, announce);
  }

  function addAlert(call, msg, announce) {
    const heard = (msg.evidence || []).filter((e) => e && e.text);
    const lang = langOf(call.lang, heard.length ? heard[0].text : msg.say);
    const node = el("li", { class: "alert", "data-testid": "alert", "data-id": msg.id,
                            "data-call-id": msg.call_id, "data-state": "open" },
      el("div", { class: "alert-head" },
        el("strong", {}, "⚠ ", typeLabel(msg.rule.replace(/^tip-/, "")) || "Alert"),
        " on call ", el("span", { "data-testid": "alert-call" }, msg.call_id),
        call.agent_id ? el("span", {}, " · agent ", call.agent_id) : null,
        el("span", { class: "muted" }, " · ", clock(msg.t_ms)),
        el("span", { class: "alert-state muted", "data-testid": "alert-state" }, "")),
      heard.length ? el("p", { class: "heard", "data-testid": "alert-evidence" },
        el("span", { class: "muted" }, "Customer said: "),
        ...heard.map((e) => el("q", { lang: langOf(call.lang, e.text) }, e.text))) : null,
      el("p", { class: "why", lang }, msg.why));
    alerts.set(msg.id, node);
    alertList.prepend(node);
    while (alertList.children.length > MAX_ALERTS) {
      const last = alertList.lastElementChild;
      alerts.delete(last.dataset.id);
      last.remove();
    }
    if (announce) $("announce-urgent").textContent = `Alert: abusive customer on call ${msg.call_id}`;
  }

  function closePrompt(callId, id, why) {
    const call = calls.get(callId);
    if (call) call.prompts.delete(id);
    markAlert(id, why);
    draw();
  }

  function markAlert(id, why) {
    const node = alerts.get(id);
    if (!node || node.dataset.state !== "open") return;
    node.dataset.state = "closed";
    node.querySelector("[data-testid=alert-state]").textContent = ` · ${why}`;
  }

  function endCall(callId) {
    const call = calls.get(callId);
    if (call) for (const id of call.prompts.keys()) markAlert(id, "call ended");
    calls.delete(callId);
  }

  function draw() {
    const rows = [...calls.values()].map((call) => {
      const open = [...call.prompts.values()];
      const urgent = open.filter((p) => p.severity === "urgent").length;
      return el("tr", { "data-testid": "call-row", "data-call-id": call.call_id, class: urgent ? "has-urgent" : null },
        el("th", { scope: "row" }, call.call_id),
        el("td", { "data-testid": "call-agent" }, call.agent_id || "-"),
        el("td", { "data-testid": "call-lang" }, call.lang || "-"),
        el("td", { "data-testid": "call-type" }, call.top ? typeLabel(call.top) : "-"),
        el("td", { "data-testid": "urgent-count", class: "num" }, String(urgent)),
        el("td", { "data-testid": "open-count", class: "num" }, String(open.length)),
        el("td", { class: "num" }, clock(call.t_ms)));
    });
    tbody.replaceChildren(...rows);
    $("call-count").textContent = String(rows.length);
    $("calls-empty").hidden = rows.length > 0;
    $("alerts-empty").hidden = alertList.children.length > 0;
  }

  function notice(text) {
    const node = $("notice");
    node.textContent = text;
    node.hidden = false;
    setTimeout(() => { node.hidden = true; }, 8000);
  }

  draw();
})();
