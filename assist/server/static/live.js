// Shared by sidebar.js and supervisor.js: a websocket that reconnects by itself with backoff and
// shows its state, plus small DOM helpers. Text from the wire only ever goes in via textContent.
"use strict";

const Live = (() => {
  // Customer types of the playbook pack (rules/playbook/pack.yaml `types`), as people say them.
  // [English, Chinese, Bulgarian]
  const TYPE_LABELS = {
    angry: ["Angry", "愤怒", "ядосан"],
    abusive: ["Abusive", "辱骂", "обиждащ"],
    impatient: ["Impatient", "不耐烦", "нетърпелив"],
    talkative: ["Talkative", "健谈", "приказлив"],
    indecisive: ["Indecisive", "犹豫不决", "нерешителен"],
    know_it_all: ["Know-it-all", "自以为无所不知", "всезнайко"],
    vulnerable: ["Vulnerable", "弱势", "уязвим"],
    demanding: ["Demanding", "苛刻", "взискателен"],
    chronic_complainer: ["Chronic complainer", "挑剔", "вечно недоволен"],
  };
  const LABEL_INDEX = { zh: 1, bg: 2 };
  const SEVERITY_LABELS = { urgent: "Urgent", warn: "Warning", info: "Info" };
  const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
  const CYRILLIC = /[\u0400-\u04ff]/;
  const BACKOFF_S = [0.5, 1, 2, 4, 8, 15];

  /** "know_it_all" → "Know-it-all"; unknown types are shown readably rather than hidden. */
  function typeLabel(type) {
    if (!type) return "";
    const known = TYPE_LABELS[type];
    if (known) return known[0];
    const words = String(type).replace(/[_-]+/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  /** The type's name in the call's own language (zh, bg), or "" when that is English or unknown. */
  function typeLabelInCallLang(type, lang) {
    const known = TYPE_LABELS[type];
    const index = LABEL_INDEX[String(lang || "").toLowerCase().split(/[-_]/)[0]];
    return known && index ? known[index] : "";
  }

  function severityLabel(severity) {
    return SEVERITY_LABELS[severity] || String(severity || "Info");
  }

  /** BCP 47 tag for text of a call: the call's own lang, else guessed from the script. */
  function langOf(callLang, text) {
    if (callLang) return String(callLang);
    return CJK.test(text || "") ? "zh" : CYRILLIC.test(text || "") ? "bg" : "en";
  }

  function isZh(lang) {
    return /^zh/i.test(lang || "");
  }

  /** Call time in ms → "m:ss". */
  function clock(tMs) {
    const s = Math.max(0, Math.floor((Number(tMs) || 0) / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  /** el("li", {class: "x", "data-testid": "y"}, "text", childNode) - strings become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function token() {
    return new URLSearchParams(location.search).get("token") || "";
  }

  /**
   * Keep a websocket to `path` open. Calls onMessage(obj) per JSON frame, onOpen() per connection.
   * Draws its state into `statusNode` ([data-state] online | connecting | offline | error).
   * Returns {send(obj) → bool}.
   */
  function connect({ path, statusNode, onMessage, onOpen }) {
    let socket = null;
    let attempt = 0;
    let retryTimer = null;
    let countdownTimer = null;

    const tok = token();
    // after the first load the server keeps the token out of the address: an HttpOnly cookie carries
    // a ticket to the websocket, and this marker says it is there
    const ticketed = document.cookie.split(";").some((c) => c.trim().startsWith(`assist_${path.slice(1)}_session=`));
    if (!tok && !ticketed) {
      show("error", "No token in the address. Open this page as …?token=<your token>.");
      return { send: () => false };
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}${path}` + (tok ? `?token=${encodeURIComponent(tok)}` : "");

    // One "Reconnect now" button for the page's life: the countdown rewrites the status every second
    // and each refused retry rewrites it again, and a button replaced each time slips from under a
    // click in progress. Re-appending the same node keeps it the element the pointer is on.
    const reconnectButton = el("button", { type: "button", class: "link", "data-testid": "reconnect",
                                           onclick: () => reconnectNow() }, "Reconnect now");

    function show(state, text, withButton) {
      statusNode.dataset.state = state;
      document.body.dataset.link = state; // lets the page dim what may be stale
      statusNode.replaceChildren(el("span", { class: "status-dot", "aria-hidden": "true" }), text);
      if (withButton) statusNode.append(" ", reconnectButton);
    }

    function open() {
      clearTimeout(retryTimer);
      clearInterval(countdownTimer);
      show("connecting", attempt ? "Reconnecting…" : "Connecting…");
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (err) {
        scheduleRetry();
        return;
      }
      socket = ws;
      ws.onopen = () => {
        if (socket !== ws) return;
        show("online", "Live");
        if (onOpen) onOpen();
      };
      ws.onmessage = (ev) => {
        if (socket !== ws) return;
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (err) {
          console.warn("not JSON from server:", err);
          return;
        }
        if (msg && msg.kind === "state") attempt = 0; // a healthy connection resets the backoff
        onMessage(msg);
      };
      ws.onclose = () => {
        if (socket !== ws) return;
        socket = null;
        scheduleRetry();
      };
    }

    function scheduleRetry() {
      const base = BACKOFF_S[Math.min(attempt, BACKOFF_S.length - 1)];
      const delayMs = Math.round(base * 1000 * (1 + Math.random() * 0.3));
      attempt += 1;
      const due = Date.now() + delayMs;
      const tick = () => {
        const left = Math.max(1, Math.ceil((due - Date.now()) / 1000));
        show("offline", `Offline - reconnecting in ${left} s`, true);
      };
      tick();
      countdownTimer = setInterval(tick, 1000);
      retryTimer = setTimeout(open, delayMs);
    }

    function reconnectNow() {
      if (socket) return;
      open();
    }

    window.addEventListener("online", reconnectNow);
    open();
    return {
      send(obj) {
        if (!socket || socket.readyState !== WebSocket.OPEN) return false;
        socket.send(JSON.stringify(obj));
        return true;
      },
    };
  }

  return { typeLabel, typeLabelInCallLang, severityLabel, langOf, isZh, clock, el, connect };
})();
