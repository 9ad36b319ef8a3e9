/* OmniDesk chat widget: the visitor's side of a conversation.
 *
 * Guarantees: a message typed is kept in a local outbox (localStorage) until the server has stored it and
 * answered with its seq (an "ack" on the socket, or the HTTP response when the socket is down or silent);
 * every send carries a client_id, so a resend after a drop, on either path, is never stored twice.
 * Messages are shown once each, ordered by seq; after any reconnect the widget fetches everything after the
 * last seq it saw (the socket is subscribed first, so nothing falls in between). All text goes through
 * textContent: nothing a person types is ever parsed as HTML.
 * Over a rate limit (429 on either path, with the wait in Retry-After or the frame's retry_after) the outbox is
 * held: the visitor is told when they can continue, with a countdown; their messages stay on screen marked
 * "not sent yet" and go out by themselves when the wait is over. Server trouble (5xx, no network) is retried
 * with a growing delay. Nothing stays "sending…" without another attempt coming.
 */
(function () {
  "use strict";

  // Embedded in another site, this frame may be denied storage (a private window, "block third-party cookies"):
  // reading localStorage then throws and nothing would start. Keep the state in memory for the page's life instead.
  var store = (function () {
    try {
      var s = window.localStorage;
      s.getItem("omnidesk:probe");
      return s;
    } catch (e) {
      var mem = {};
      return {
        getItem: function (k) { return Object.prototype.hasOwnProperty.call(mem, k) ? mem[k] : null; },
        setItem: function (k, v) { mem[k] = String(v); },
        removeItem: function (k) { delete mem[k]; },
      };
    }
  })();

  var config = JSON.parse(document.getElementById("omnidesk-config").textContent);
  var tenant = config.tenant;
  var api = "/api/v1/widget/" + encodeURIComponent(tenant);
  var storeKey = "omnidesk:" + tenant + ":";
  var lang = store.getItem(storeKey + "lang") || config.lang;

  var state = {
    visitorId: store.getItem(storeKey + "visitor") || null,
    token: null,
    socketToken: null,
    conversationId: store.getItem(storeKey + "conversation") || null,
    status: null,
    lastSeq: 0,
    shown: {},          // seq -> <li>
    pending: {},        // client_id -> <li>
    awaiting: {},       // client_id -> settles the socket send waiting for its ack
    ready: false,       // the socket is authenticated and subscribed
    ws: null,
    backoff: 500,
    flushing: false,
    identity: null,
    agentRead: 0,
    agentDelivered: 0,
    rated: false,
    holdUntil: 0,       // Date.now() until which the outbox waits (rate limited); 0 when not held
    holdKey: null,      // what the countdown says: widget.too_fast or widget.too_many_conversations
    holdTimer: null,
    retryTimer: null,
    retryDelay: 2000,   // the next wait after server trouble; doubles up to 30 s, back to 2 s on success
  };
  var outbox = loadOutbox();

  var el = {
    messages: document.getElementById("messages"),
    input: document.getElementById("message-input"),
    composer: document.getElementById("composer"),
    status: document.getElementById("status"),
    hold: document.getElementById("hold"),
    announce: document.getElementById("announce"),
    queue: document.getElementById("queue"),
    typing: document.getElementById("typing"),
    rating: document.getElementById("rating"),
    rated: document.getElementById("rated"),
    file: document.getElementById("file-input"),
    contact: document.getElementById("contact"),
    langSwitch: document.getElementById("lang-switch"),
    close: document.getElementById("close-chat"),
    agent: document.getElementById("agent"),
    prechat: document.getElementById("prechat"),
    offline: document.getElementById("offline"),
    offlineDone: document.getElementById("offline-done"),
  };

  function t(key, values) {
    var text = (config.strings[lang] || {})[key] || (config.strings.en || {})[key] || key;
    if (values) {
      Object.keys(values).forEach(function (k) { text = text.split("{" + k + "}").join(String(values[k])); });
    }
    return text;
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (node) { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll("[data-i18n-label]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (node) {
      node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
    });
    el.langSwitch.textContent = lang === "zh-CN" ? "English" : "中文";
  }

  function loadOutbox() {
    try { return JSON.parse(store.getItem(storeKey + "outbox") || "[]"); } catch (e) { return []; }
  }
  function saveOutbox() { store.setItem(storeKey + "outbox", JSON.stringify(outbox)); }

  function newClientId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "c_" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function setStatus(text) { el.status.textContent = text || ""; }

  async function call(method, path, body, isForm) {
    // Accept-Language: the server words its answers (a 429's detail) in the widget's language.
    var headers = { "Accept": "application/json", "Accept-Language": lang };
    if (state.token) headers["Authorization"] = "Bearer " + state.token;
    var init = { method: method, headers: headers };
    if (body !== undefined) {
      if (isForm) { init.body = body; } else { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    }
    var response = await fetch(api + path, init);
    if (response.status === 401 && path !== "/session") {
      await startSession();
      headers["Authorization"] = "Bearer " + state.token;
      response = await fetch(api + path, init);
    }
    return response;
  }

  async function startSession() {
    var body = { language: lang };
    if (state.visitorId) body.visitor_id = state.visitorId;
    if (state.identity) {
      body.identifier = state.identity.identifier;
      body.identifier_issued_at = state.identity.identifier_issued_at;
      body.identifier_hash = state.identity.identifier_hash;
      if (state.identity.name) body.name = state.identity.name;
    }
    var saved = state.token;
    state.token = null;
    var response = await call("POST", "/session", body);
    if (!response.ok && state.identity && (response.status === 401 || response.status === 422)) {
      // The host site's identity token expired or uses the old scheme: chat on anonymously rather than not at
      // all, tell the integrator why, and let the host page sign a fresh one (OmniDeskSettings.refreshIdentity).
      var problem = await response.json().catch(function () { return {}; });
      if (window.console) console.warn("OmniDesk: identity refused: " + (problem.detail || response.status));
      state.identity = null;
      state.token = saved;
      var anonymous = await startSession();
      // Only now: a fresh identity the host page sends back must not race this anonymous session.
      tellParent({ type: "omnidesk:identity-refused", problem: String(problem.type || "") });
      return anonymous;
    }
    if (!response.ok) {
      state.token = saved;
      var failure = new Error("session " + response.status);
      failure.status = response.status;
      throw failure;
    }
    var data = await response.json();
    state.visitorId = data.visitor_id;
    state.token = data.token;
    state.socketToken = data.socket_token;
    store.setItem(storeKey + "visitor", data.visitor_id);
    var known = data.conversations.map(function (c) { return c.id; });
    if (!state.conversationId || known.indexOf(state.conversationId) < 0) {
      state.conversationId = data.conversations.length ? data.conversations[0].id : null;
      if (state.conversationId) store.setItem(storeKey + "conversation", state.conversationId);
      else store.removeItem(storeKey + "conversation");
    }
    var current = data.conversations.filter(function (c) { return c.id === state.conversationId; })[0];
    if (current) state.status = current.status;
    return data;
  }

  /* ---- rendering ---- */

  function safeUrl(value) {
    try {
      var url = new URL(value, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  }

  function renderBody(li, message) {
    var body = document.createElement("div");
    body.className = "body";
    var payload = message.payload || {};
    if (message.kind === "attachment" && payload.attachment) {
      renderAttachment(body, payload.attachment);
    } else if (message.sender_type && message.sender_type !== "customer") {
      renderRichText(body, String(message.body || ""));
    } else {
      var text = document.createElement("p");
      text.textContent = message.body;
      body.appendChild(text);
    }
    if (message.kind === "quick_replies" && Array.isArray(payload.buttons)) {
      var group = document.createElement("div");
      group.className = "quick-replies";
      group.setAttribute("role", "group");
      payload.buttons.slice(0, 10).forEach(function (button) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = String(button.label || button.value || "");
        b.addEventListener("click", function () { queueMessage(String(button.value || button.label || "")); });
        group.appendChild(b);
      });
      body.appendChild(group);
    }
    if (message.kind === "card") {
      var card = document.createElement("div");
      card.className = "card";
      var title = document.createElement("strong");
      title.textContent = String(payload.title || "");
      card.appendChild(title);
      if (payload.text) { var p = document.createElement("p"); p.textContent = String(payload.text); card.appendChild(p); }
      var cardUrl = payload.url && safeUrl(payload.url);
      if (cardUrl) { card.appendChild(link(cardUrl, payload.link_text || cardUrl)); }
      body.appendChild(card);
    }
    if (message.kind === "link") {
      var href = safeUrl(payload.url || "");
      if (href) body.appendChild(link(href, payload.title || href));
    }
    li.appendChild(body);
  }

  /* Answers written with Markdown-ish lists keep their shape: "- a" / "* a" / "• a" lines become a bulleted list,
   * "1. a" / "1) a" / "1、a" lines a numbered one, **bold** is bold, other lines stay paragraphs (line breaks
   * kept). Built with createElement/textContent only: nothing in the text is ever parsed as HTML. */
  function renderRichText(holder, source) {
    var list = null, listKind = "", para = null;
    function inline(parent, line) {
      var parts = line.split(/\*\*([^*]+)\*\*/);
      parts.forEach(function (part, i) {
        if (!part) return;
        if (i % 2 === 1) { var b = document.createElement("strong"); b.textContent = part; parent.appendChild(b); }
        else parent.appendChild(document.createTextNode(part));
      });
    }
    source.replace(/\r\n?/g, "\n").split("\n").forEach(function (raw) {
      var bullet = raw.match(/^\s*(?:[-*•·])\s+(.*)$/);
      var number = raw.match(/^\s*(\d{1,3})(?:[.)]|、)\s*(.*)$/);
      var kind = bullet ? "ul" : number ? "ol" : "";
      if (kind) {
        if (listKind !== kind) {
          list = document.createElement(kind);
          if (kind === "ol" && number[1] !== "1") list.start = Number(number[1]);
          holder.appendChild(list); listKind = kind;
        }
        var item = document.createElement("li");
        inline(item, bullet ? bullet[1] : number[2]);
        list.appendChild(item);
        para = null;
        return;
      }
      list = null; listKind = "";
      if (!raw.trim()) { para = null; return; }
      if (para) para.appendChild(document.createElement("br"));
      else { para = document.createElement("p"); holder.appendChild(para); }
      inline(para, raw);
    });
    if (!holder.firstChild) { var empty = document.createElement("p"); holder.appendChild(empty); }
  }

  function link(href, label) {
    var a = document.createElement("a");
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = String(label);
    return a;
  }

  async function renderAttachment(container, attachment) {
    var path = "/conversations/" + state.conversationId + "/attachments/" + attachment.id;
    var response = await call("GET", path);
    if (!response.ok) { container.textContent = attachment.filename; return; }
    var url = URL.createObjectURL(await response.blob());
    if (attachment.content_type.indexOf("image/") === 0) {
      var img = document.createElement("img");
      img.src = url;
      img.alt = attachment.filename;
      container.appendChild(img);
    } else {
      var a = document.createElement("a");
      a.href = url;
      a.download = attachment.filename;
      a.textContent = "📄 " + attachment.filename;
      container.appendChild(a);
    }
  }

  function meta(li, message) {
    var m = li.querySelector(".meta") || document.createElement("span");
    m.className = "meta";
    var time = message.created_at ? new Date(message.created_at).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }) : "";
    var tick = "";
    if (message.sender_type === "customer") {
      if (!message.seq) tick = t("widget.sending");
      else if (message.seq <= state.agentRead) tick = t("widget.read");
      else if (message.seq <= state.agentDelivered) tick = t("widget.delivered");
      else tick = t("widget.sent");
    }
    m.textContent = [time, tick].filter(Boolean).join(" · ");
    if (!m.parentNode) li.appendChild(m);
  }

  function who(message) {
    if (message.sender_type === "customer") return t("widget.you");
    if (message.sender_type === "bot") return t("widget.assistant");
    if (message.sender_type === "system") return t("widget.system");
    return message.sender_name || t("widget.agent");
  }

  /* An agent's avatar: their initials in a circle whose colour comes from the name (the same name, the same
   * colour, on every visit). Latin names give two initials ("Wang Fang" → "WF"), others their first character. */
  function initials(name) {
    var words = String(name || "").trim().split(/\s+/).filter(Boolean);
    if (!words.length) return "?";
    if (words.length > 1 && /^[A-Za-z]/.test(words[0])) return (words[0][0] + words[1][0]).toUpperCase();
    return Array.from(words[0])[0].toUpperCase();
  }
  function avatar(name) {
    var span = document.createElement("span");
    span.className = "avatar";
    span.setAttribute("aria-hidden", "true");
    var hash = 0;
    Array.from(String(name || "")).forEach(function (c) { hash = (hash * 31 + c.codePointAt(0)) % 360; });
    span.style.background = "hsl(" + hash + ", 55%, 38%)";
    span.textContent = initials(name);
    return span;
  }
  function showAgent(name) {
    if (!name) return;
    state.agentName = name;
    el.agent.replaceChildren(avatar(name));
    var text = document.createElement("span");
    text.className = "agent-name";
    text.textContent = t("widget.agent_joined", { name: name });
    el.agent.appendChild(text);
    el.agent.hidden = false;
  }

  function showMessage(message) {
    if (message.internal) return;
    if (state.shown[message.seq]) return;
    var li = message.client_id && state.pending[message.client_id];
    if (li) {
      delete state.pending[message.client_id];
    } else {
      li = document.createElement("li");
      var label = document.createElement("span");
      label.className = "sr-only";
      label.textContent = who(message) + ": ";
      li.appendChild(label);
      if (message.sender_type === "agent" && message.sender_name) {
        var sender = document.createElement("span");
        sender.className = "sender";
        sender.setAttribute("aria-hidden", "true");
        sender.appendChild(avatar(message.sender_name));
        var senderName = document.createElement("span");
        senderName.className = "sender-name";
        senderName.textContent = message.sender_name;
        sender.appendChild(senderName);
        li.appendChild(sender);
      }
      renderBody(li, message);
    }
    if (message.sender_type === "agent" && message.sender_name && message.seq >= state.lastSeq) showAgent(message.sender_name);
    li.className = "msg " + message.sender_type;
    li.dataset.seq = message.seq;
    state.shown[message.seq] = li;
    meta(li, message);
    li._message = message;
    insertOrdered(li, message.seq);
    if (message.seq > state.lastSeq) state.lastSeq = message.seq;
    if (message.sender_type !== "customer") { hideQueue(); scheduleReceipt(); }
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function insertOrdered(li, seq) {
    var items = el.messages.children;
    for (var i = items.length - 1; i >= 0; i--) {
      var s = Number(items[i].dataset.seq || Infinity);
      if (s < seq) { items[i].after(li); return; }
    }
    el.messages.prepend(li);
  }

  function showPending(item) {
    var li = document.createElement("li");
    li.className = "msg customer pending";
    li.dataset.seq = "";
    var label = document.createElement("span");
    label.className = "sr-only";
    label.textContent = t("widget.you") + ": ";
    li.appendChild(label);
    renderBody(li, { kind: "text", body: item.body, payload: {} });
    meta(li, { sender_type: "customer" });
    el.messages.appendChild(li);
    state.pending[item.client_id] = li;
    if (state.holdUntil) tickHold();  // typed while held: marked "not sent yet" at once
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function refreshTicks() {
    Object.keys(state.shown).forEach(function (seq) {
      var li = state.shown[seq];
      if (li._message) meta(li, li._message);
    });
  }

  /* ---- sending: the outbox ---- */

  var MAX_MESSAGE = 10000;

  function queueMessage(body) {
    body = body.trim();
    if (!body) return;
    if (Array.from(body).length > MAX_MESSAGE) { setStatus(t("widget.too_long")); return; }
    var item = { client_id: newClientId(), body: body, conversation_id: state.conversationId };
    outbox.push(item);
    saveOutbox();
    showPending(item);
    flushOutbox();
  }

  async function flushOutbox() {
    if (state.holdUntil) {
      if (state.holdUntil > Date.now()) return;
      releaseHold();  // the wait is over although its timer has not fired yet (a throttled background tab)
      return;
    }
    if (state.flushing || !state.token) return;
    clearTimeout(state.retryTimer);
    state.flushing = true;
    try {
      while (outbox.length) {
        var item = outbox[0];
        var response;
        var conversationId = item.conversation_id || state.conversationId;
        if (state.status === "resolved" && !item.conversation_id) conversationId = null;
        if (!conversationId) {
          response = await call("POST", "/conversations", { message: item.body, client_id: item.client_id });
          if (response.ok) {
            sent();
            var conversation = await response.json();
            switchConversation(conversation.id, conversation.status);
            outbox.shift();
            outbox.forEach(function (o) { if (!o.conversation_id) o.conversation_id = conversation.id; });
            saveOutbox();
            await fetchMissed();
            continue;
          }
        } else {
          // Over the open socket when there is one (cheaper for the server, answered after the commit);
          // over HTTP when there is none or it gave no answer. Same client_id either way: stored once.
          var answer = state.ready ? await sendOverSocket(conversationId, item) : null;
          if (answer && answer.type === "ack") {
            outbox.shift();
            saveOutbox();
            sent();
            showMessage(answer.message);
            continue;
          }
          if (answer) {
            response = { status: answer.status, retryAfter: answer.retry_after };
          } else {
            response = await call("POST", "/conversations/" + conversationId + "/messages",
              { body: item.body, client_id: item.client_id });
            if (response.ok) {
              outbox.shift();
              saveOutbox();
              sent();
              showMessage(await response.json());
              continue;
            }
          }
        }
        if (response.status === 429) {
          holdOutbox(retryAfterOf(response), conversationId ? "widget.too_fast" : "widget.too_many_conversations");
          break;
        }
        if (response.status >= 500) {
          // 503: the server said it is busy (shedding load); other 5xx: trouble. Kept and retried either way.
          setStatus(t(response.status === 503 ? "widget.busy" : "widget.retrying"));
          retryLater(retryAfterOf(response));
          break;
        }
        // Refused for good (too long, conversation gone): drop it and say why.
        outbox.shift();
        saveOutbox();
        var li = state.pending[item.client_id];
        var tooLong = (response.status === 422 || response.status === 413) && Array.from(item.body).length > MAX_MESSAGE;
        if (li) { li.classList.add("failed"); li.querySelector(".meta").textContent = t("widget.failed"); }
        if (tooLong) setStatus(t("widget.too_long"));
      }
    } catch (e) {
      setStatus(t("widget.offline"));
      retryLater(0);
    } finally {
      state.flushing = false;
    }
  }

  /* ---- waiting: over a rate limit, or after server trouble ---- */

  function retryAfterOf(response) {
    var header = response.headers ? Number(response.headers.get("Retry-After")) : Number(response.retryAfter);
    return header > 0 ? header : 0;
  }

  function waitText(seconds) {
    if (seconds < 120) return t("widget.wait_seconds", { seconds: seconds });
    return t("widget.wait_minutes", { minutes: Math.ceil(seconds / 60) });
  }

  function holdOutbox(seconds, key) {
    var wait = Math.min(seconds || 5, 12 * 3600);
    state.holdUntil = Date.now() + wait * 1000;
    state.holdKey = key;
    setStatus("");
    el.hold.hidden = false;
    document.body.dataset.held = "1";
    // Said once to screen readers; the countdown itself (role=timer) is not read out every second.
    el.announce.textContent = t(key, { wait: waitText(wait) });
    tickHold();
  }

  function tickHold() {
    clearTimeout(state.holdTimer);
    var left = Math.ceil((state.holdUntil - Date.now()) / 1000);
    if (left <= 0) { releaseHold(); return; }
    el.hold.textContent = t(state.holdKey, { wait: waitText(left) });
    markHeld(t("widget.held", { wait: waitText(left) }));
    state.holdTimer = setTimeout(tickHold, (state.holdUntil - Date.now()) % 1000 || 1000);
  }

  function releaseHold() {
    state.holdUntil = 0;
    el.hold.hidden = true;
    el.hold.textContent = "";
    el.announce.textContent = "";
    delete document.body.dataset.held;
    markHeld(null);
    flushOutbox();
  }

  function markHeld(text) {
    Object.keys(state.pending).forEach(function (id) {
      var li = state.pending[id];
      if (li.classList.contains("failed")) return;
      li.classList.toggle("held", Boolean(text));
      var m = li.querySelector(".meta");
      if (m) m.textContent = text || t("widget.sending");
    });
  }

  function retryLater(seconds) {
    clearTimeout(state.retryTimer);
    var delay = seconds ? seconds * 1000 : state.retryDelay;
    state.retryDelay = Math.min(state.retryDelay * 2, 30000);
    state.retryTimer = setTimeout(flushOutbox, delay);
  }

  function sent() {
    state.retryDelay = 2000;
    var text = el.status.textContent;
    if (text === t("widget.retrying") || text === t("widget.offline") || text === t("widget.busy")) setStatus("");
  }

  function sendOverSocket(conversationId, item) {
    return new Promise(function (resolve) {
      var timer = setTimeout(function () { settle(null); }, 10000);
      function settle(frame) { clearTimeout(timer); delete state.awaiting[item.client_id]; resolve(frame); }
      state.awaiting[item.client_id] = settle;
      try {
        state.ws.send(JSON.stringify({ type: "send", conversation_id: conversationId, client_id: item.client_id, body: item.body }));
      } catch (e) { settle(null); }
    });
  }

  function switchConversation(id, status) {
    if (state.conversationId !== id) {
      state.conversationId = id;
      state.lastSeq = 0;
      state.shown = {};
      state.agentRead = 0;
      state.agentDelivered = 0;
      state.rated = false;
      Array.prototype.slice.call(el.messages.querySelectorAll("li:not(.pending)")).forEach(function (n) { n.remove(); });
    }
    state.status = status;
    store.setItem(storeKey + "conversation", id);
    el.rating.hidden = true;
    el.rated.hidden = true;
    pollQueue();
  }

  /* ---- resume: fetch what was missed ---- */

  async function fetchMissed() {
    if (!state.conversationId) return;
    for (var guard = 0; guard < 50; guard++) {
      var response = await call("GET", "/conversations/" + state.conversationId + "/messages?after_seq=" + state.lastSeq);
      if (response.status === 404) { state.conversationId = null; store.removeItem(storeKey + "conversation"); return; }
      if (!response.ok) return;
      var page = await response.json();
      page.items.forEach(showMessage);
      if (!page.next_cursor) break;
    }
  }

  /* ---- the socket ---- */

  async function connect() {
    if (!state.socketToken) {
      var r = await call("POST", "/socket-token");
      if (!r.ok) throw new Error("socket token " + r.status);
      state.socketToken = (await r.json()).socket_token;
    }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/api/v1/realtime/ws");
    state.ws = ws;
    var token = state.socketToken;
    state.socketToken = null; // single use: a reconnect asks for a fresh one
    ws.onopen = function () { ws.send(JSON.stringify({ type: "auth", token: token })); };
    ws.onmessage = function (event) { onEvent(JSON.parse(event.data)); };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      state.ws = null;
      state.ready = false;
      Object.keys(state.awaiting).forEach(function (id) { state.awaiting[id](null); });
      setStatus(t("widget.reconnecting"));
      setTimeout(reconnect, state.backoff);
      state.backoff = Math.min(state.backoff * 2, 10000);
    };
  }

  async function reconnect() {
    try { await connect(); } catch (e) { setTimeout(reconnect, state.backoff); state.backoff = Math.min(state.backoff * 2, 10000); }
  }

  async function onEvent(event) {
    if (event.type === "ack" || event.type === "error") {
      if (state.awaiting[event.client_id]) state.awaiting[event.client_id](event);
      return;
    }
    if (event.type === "ready") {
      state.ready = true;
      state.backoff = 500;
      setStatus("");
      document.body.dataset.connected = "1";
      await fetchMissed();
      await flushOutbox();
      return;
    }
    if (event.type === "resync") { await fetchMissed(); return; }
    if (event.conversation_id && event.conversation_id !== state.conversationId) {
      if (event.type === "conversation" && event.op === "add" && !state.conversationId) switchConversation(event.conversation_id, event.status);
      else return;
    }
    if (event.type === "message") {
      var message = event.message;
      if (message.seq > state.lastSeq + 1) { await fetchMissed(); }
      showMessage(message);
      if (message.sender_type !== "customer") el.typing.hidden = true;
    } else if (event.type === "typing") {
      el.typing.textContent = t("widget.agent_typing");
      el.typing.hidden = !event.active;
      clearTimeout(state.typingTimer);
      state.typingTimer = setTimeout(function () { el.typing.hidden = true; }, 6000);
    } else if (event.type === "receipt") {
      state.agentRead = Math.max(state.agentRead, event.read_seq || 0);
      state.agentDelivered = Math.max(state.agentDelivered, event.delivered_seq || 0);
      refreshTicks();
    } else if (event.type === "conversation") {
      state.status = event.status;
      if (event.status === "resolved" && !state.rated) { el.rating.hidden = false; hideQueue(); }
      if (event.status !== "resolved") el.rating.hidden = true;
    } else if (event.type === "queue") {
      pollQueue();
    }
  }

  /* ---- typing, receipts, queue ---- */

  var lastTyping = 0;
  el.input.addEventListener("input", function () {
    // The box stops at its maxlength without a word: say why nothing more can be typed or pasted.
    if (el.input.value.length >= MAX_MESSAGE) setStatus(t("widget.too_long"));
    else if (el.status.textContent === t("widget.too_long")) setStatus("");
    var now = Date.now();
    if (state.ws && state.ws.readyState === 1 && state.conversationId && now - lastTyping > 2000) {
      lastTyping = now;
      state.ws.send(JSON.stringify({ type: "typing", conversation_id: state.conversationId, active: true }));
    }
  });

  var receiptTimer = null;
  function scheduleReceipt() {
    clearTimeout(receiptTimer);
    receiptTimer = setTimeout(function () {
      if (!state.conversationId || !state.lastSeq) return;
      var read = document.visibilityState === "visible" ? state.lastSeq : 0;
      call("POST", "/conversations/" + state.conversationId + "/receipts", { delivered_seq: state.lastSeq, read_seq: read });
    }, 400);
  }
  document.addEventListener("visibilitychange", scheduleReceipt);

  var queueTimer = null;
  function hideQueue() { el.queue.hidden = true; clearTimeout(queueTimer); }
  async function pollQueue() {
    clearTimeout(queueTimer);
    if (!state.conversationId) return;
    var response = await call("GET", "/conversations/" + state.conversationId + "/queue");
    if (!response.ok) return;
    var q = await response.json();
    if (!q.waiting) { hideQueue(); return; }
    el.queue.hidden = false;
    el.queue.textContent = q.message;  // the server's one sentence: place in line and an honest wait
    queueTimer = setTimeout(pollQueue, 15000);
  }

  /* ---- forms ---- */

  el.composer.addEventListener("submit", function (event) {
    event.preventDefault();
    queueMessage(el.input.value);
    el.input.value = "";
    el.input.focus();
  });
  el.input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      el.composer.requestSubmit();
    }
  });

  el.file.addEventListener("change", async function () {
    var file = el.file.files[0];
    el.file.value = "";
    if (!file) return;
    var limit = config.maxUploadBytes || 0;
    if (limit && file.size > limit) { setStatus(t("widget.file_too_large", { limit: sizeText(limit) })); return; }
    if (!/^(image\/(png|jpeg|gif|webp)|application\/pdf)$/.test(file.type)) { setStatus(t("widget.file_type")); return; }
    if (!state.conversationId) { queueMessage(file.name); await waitFor(function () { return state.conversationId; }); }
    var form = new FormData();
    form.append("file", file);
    form.append("client_id", newClientId());
    setStatus(t("widget.uploading"));
    var response = await call("POST", "/conversations/" + state.conversationId + "/attachments", form, true);
    if (response.ok) { setStatus(""); showMessage(await response.json()); }
    else setStatus(uploadProblem(response.status, file));
  });

  function sizeText(bytes) {
    return bytes >= 1048576 ? Math.floor(bytes / 1048576) + " MB" : Math.ceil(bytes / 1024) + " KB";
  }

  function uploadProblem(status, file) {
    var limit = config.maxUploadBytes || 0;
    if (status === 413 || (limit && file.size > limit)) return t("widget.file_too_large", { limit: sizeText(limit) });
    if (status === 415 || status === 422) return t("widget.file_type");
    if (status === 429) return t("widget.too_fast", { wait: waitText(5) });
    if (status >= 500) return t("widget.file_busy");
    return t("widget.upload_failed");
  }

  /* ---- the pre-chat and offline forms ---- */

  function fieldLabel(spec) {
    if (spec.key === "name" || spec.key === "email" || spec.key === "phone") return t("widget.contact_" + spec.key);
    return spec.label;
  }

  function buildPrechat() {
    var holder = el.prechat.querySelector(".fields");
    holder.replaceChildren();
    (config.prechat || []).forEach(function (spec) {
      var field = document.createElement("div");
      field.className = "field";
      field.dataset.key = spec.key;
      var label = document.createElement("label");
      var caption = document.createElement("span");
      caption.textContent = fieldLabel(spec) + (spec.required ? "" : " " + t("widget.optional"));
      var input = document.createElement("input");
      input.name = spec.key;
      input.maxLength = spec.key === "email" ? 254 : 200;
      if (spec.key === "email") { input.type = "email"; input.autocomplete = "email"; }
      else if (spec.key === "phone") { input.type = "tel"; input.autocomplete = "tel"; }
      else if (spec.key === "name") input.autocomplete = "name";
      if (spec.required) input.setAttribute("aria-required", "true");
      var error = document.createElement("span");
      error.className = "field-error";
      error.hidden = true;
      label.append(caption, " ", input);
      field.append(label, error);
      holder.appendChild(field);
    });
  }

  function showPanel(form) {
    [el.prechat, el.offline].forEach(function (f) { f.hidden = f !== form; });
    el.composer.hidden = Boolean(form);
    document.querySelector(".contact").hidden = Boolean(form);
    if (form) { var first = form.querySelector("input, textarea"); if (first) first.focus(); }
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (n) { n.hidden = true; n.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (n) { n.removeAttribute("aria-invalid"); });
    var top = form.querySelector(".form-error");
    top.hidden = true;
    top.textContent = "";
  }

  /* A refused form: the server's sentence on top, each field's own message under it (already in our language). */
  async function showErrors(form, response) {
    var top = form.querySelector(".form-error");
    var problem = await response.json().catch(function () { return {}; });
    if (response.status === 429) {
      top.textContent = t("widget.too_many_conversations", { wait: waitText(retryAfterOf(response) || 60) });
    } else if (response.status >= 500) {
      top.textContent = t("widget.busy");
    } else {
      top.textContent = problem.detail || t("widget.form_invalid");
    }
    top.hidden = false;
    (problem.errors || []).forEach(function (error) {
      var field = form.querySelector('.field[data-key="' + String(error.field).replace(/[^a-z0-9_]/g, "") + '"]');
      if (!field) return;
      var note = field.querySelector(".field-error");
      note.textContent = String(error.message || "");
      note.hidden = false;
      var input = field.querySelector("input, textarea");
      input.setAttribute("aria-invalid", "true");
      note.id = "err-" + form.id + "-" + field.dataset.key;
      input.setAttribute("aria-describedby", note.id);
    });
  }

  function formValues(form) {
    var values = {};
    form.querySelectorAll("input, textarea").forEach(function (input) { values[input.name] = input.value.trim(); });
    return values;
  }

  el.prechat.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors(el.prechat);
    var values = {};
    var all = formValues(el.prechat);
    Object.keys(all).forEach(function (k) { if (all[k]) values[k] = all[k]; });
    var response = await call("POST", "/prechat", { values: values });
    if (!response.ok) { await showErrors(el.prechat, response); return; }
    store.setItem(storeKey + "prechat", "1");
    showPanel(null);
    el.input.focus();
  });

  el.offline.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors(el.offline);
    var response = await call("POST", "/offline", formValues(el.offline));
    if (!response.ok) { await showErrors(el.offline, response); return; }
    var done = await response.json();
    el.offline.hidden = true;
    el.offlineDone.textContent = done.message;
    el.offlineDone.hidden = false;
  });

  /* Which form, if any, comes before the chat: the offline form when the tenant asked for it and no agent is
   * online (and the visitor has no conversation going on), else the pre-chat form until it has been filled once. */
  async function choosePanel() {
    if (state.conversationId && state.status !== "resolved") { showPanel(null); return; }
    if (config.offlineForm) {
      var r = await call("GET", "/availability");
      if (r.ok && (await r.json()).offline_form) { showPanel(el.offline); return; }
    }
    if ((config.prechat || []).length && !store.getItem(storeKey + "prechat") && !state.conversationId) {
      buildPrechat();
      showPanel(el.prechat);
      return;
    }
    showPanel(null);
  }

  function waitFor(predicate) {
    return new Promise(function (resolve) {
      var tries = 0;
      (function check() { if (predicate() || tries++ > 50) resolve(); else setTimeout(check, 100); })();
    });
  }

  el.rating.addEventListener("submit", async function (event) {
    event.preventDefault();
    var data = new FormData(el.rating);
    var response = await call("POST", "/conversations/" + state.conversationId + "/rating",
      { score: Number(data.get("score")), comment: String(data.get("comment") || "") });
    if (response.ok) { state.rated = true; el.rating.hidden = true; el.rated.hidden = false; }
  });

  el.contact.addEventListener("submit", async function (event) {
    event.preventDefault();
    var data = new FormData(el.contact);
    var body = {};
    ["name", "email", "phone"].forEach(function (k) { var v = String(data.get(k) || "").trim(); if (v) body[k] = v; });
    var response = await call("PATCH", "/contact", body);
    setStatus(response.ok ? t("widget.contact_saved") : t("widget.contact_invalid"));
  });

  el.langSwitch.addEventListener("click", function () {
    lang = lang === "zh-CN" ? "en" : "zh-CN";
    store.setItem(storeKey + "lang", lang);
    applyLanguage();
    refreshTicks();
    if (state.holdUntil) tickHold();
    if (!el.prechat.hidden) buildPrechat();
    if (state.agentName) showAgent(state.agentName);
  });

  if (el.close) el.close.addEventListener("click", function () { tellParent({ type: "omnidesk:close" }); });

  /* ---- the host page (embedded mode): identity and close, origins checked both ways ---- */

  function tellParent(message) {
    if (!config.embed || window.parent === window) return;
    (config.parentOrigins.length ? config.parentOrigins : ["*"]).forEach(function (origin) {
      try { window.parent.postMessage(message, origin); } catch (e) { /* origin mismatch: ignore */ }
    });
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || config.parentOrigins.indexOf(event.origin) < 0) return;
    var data = event.data || {};
    if (data.type === "omnidesk:identify" && typeof data.identifier === "string" && typeof data.identifier_hash === "string") {
      state.identity = { identifier: data.identifier, identifier_issued_at: Number(data.identifier_issued_at) || null,
        identifier_hash: data.identifier_hash, name: data.name };
      startSession().then(function () { if (state.ws) state.ws.close(); });
    }
  });

  window.addEventListener("online", function () { flushOutbox(); });

  /* ---- start ---- */

  async function main() {
    applyLanguage();
    if (config.greeting) {
      var hello = document.createElement("li");
      hello.className = "msg greeting";
      hello.dataset.seq = "0";
      hello.textContent = config.greeting;
      el.messages.appendChild(hello);
    }
    setStatus(t("widget.connecting"));
    outbox.forEach(showPending);
    try {
      await startSession();
    } catch (e) {
      // A 503 (the server sheds load) or a 429 (too many sessions from this network) is said as such; anything
      // else looks like no network. Tried again either way.
      setStatus(t(e.status === 503 ? "widget.busy" : e.status === 429 ? "widget.session_limited" : "widget.offline"));
      setTimeout(main, e.status === 429 ? 30000 : 3000);
      return;
    }
    document.body.dataset.session = "1";
    tellParent({ type: "omnidesk:ready" });
    try { await choosePanel(); } catch (e) { showPanel(null); }
    flushOutbox();  // what was kept from last time goes out now, over HTTP if the socket is slow or blocked
    if (state.status === "resolved") el.rating.hidden = false;
    pollQueue();
    try { await connect(); } catch (e) { setTimeout(reconnect, 1000); }
  }

  main();
})();
