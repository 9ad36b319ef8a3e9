/* The agent workspace's live parts. The page is server-rendered; this script subscribes to the tenant's events,
 * refetches the inbox list when something changes, appends new messages to the open conversation (once each,
 * by seq, fetching any gap from the API), and sends replies, notes, files and actions through the JSON API with
 * the session's CSRF token. Chat text is inserted with textContent only.
 */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var root = document.getElementById("workspace");
  var conversationId = root.dataset.conversation || null;
  var customerId = root.dataset.customer || null;
  var me = root.dataset.user;
  var thread = document.getElementById("thread");
  var lastSeq = thread ? Number(thread.dataset.lastSeq || 0) : 0;
  var live = document.getElementById("live");
  var backoff = 500;
  var ws = null;

  function api(method, path, body, isForm) {
    var headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      if (isForm) init.body = body;
      else { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    }
    return fetch("/api/v1" + path, init);
  }

  /* ---- failed actions: always say why, in the page's language ---- */
  var errorBox = document.getElementById("action-error");
  function showError(text, detail) {
    if (!errorBox) return;
    var d = errorBox.dataset;
    errorBox.replaceChildren();
    var strong = document.createElement("strong"); strong.textContent = text; errorBox.appendChild(strong);
    if (detail) { var small = document.createElement("span"); small.className = "small muted"; small.textContent = " (" + detail + ")"; errorBox.appendChild(small); }
    var close = document.createElement("button");
    close.type = "button"; close.className = "secondary small"; close.textContent = d.close || "×";
    close.addEventListener("click", function () { errorBox.hidden = true; });
    errorBox.appendChild(close);
    errorBox.hidden = false;
  }
  /* Returns true when the response is a success; otherwise shows the reason (a translated headline for the
   * problem's kind, the server's own words beside it) and returns false. */
  async function ok(response) {
    if (response.ok) { if (errorBox) errorBox.hidden = true; return true; }
    var d = errorBox ? errorBox.dataset : {};
    var problem = {};
    try { problem = await response.clone().json(); } catch (e) { problem = {}; }
    var kind = (problem.errors && problem.errors[0] && problem.errors[0].type) || "";
    var text = (kind === "assignee_cannot_handle" && d.assignee) ||
      (response.status === 403 && d.forbidden) || (response.status === 404 && d.gone) ||
      (response.status === 409 && d.conflict) || (response.status === 422 && d.invalid) ||
      (response.status === 429 && d.busy) || d.generic || "Error";
    showError(text.replace("{status}", String(response.status)), problem.detail || "");
    return false;
  }
  async function call(method, path, payload, isForm) {
    try { return await api(method, path, payload, isForm); }
    catch (e) { showError((errorBox && errorBox.dataset.network) || "Network error", ""); return { ok: false, status: 0, json: async function () { return {}; }, clone: function () { return this; } }; }
  }

  /* ---- the list ---- */
  var listTimer = null;
  function refreshList() {
    clearTimeout(listTimer);
    listTimer = setTimeout(async function () {
      var params = new URLSearchParams(location.search);
      if (conversationId) params.set("c", conversationId);
      var response = await fetch("/inbox/list?" + params.toString(), { credentials: "same-origin" });
      if (!response.ok) return;
      var holder = document.getElementById("list-holder");
      var doc = new DOMParser().parseFromString(await response.text(), "text/html");
      var list = doc.getElementById("conv-list");
      if (list) holder.replaceChildren(document.importNode(list, true));
      document.dispatchEvent(new CustomEvent("omnidesk:list"));
    }, 250);
  }

  /* ---- the thread ---- */
  function hasSeq(seq) { return thread && thread.querySelector('li[data-seq="' + seq + '"]'); }

  function appendMessage(m) {
    if (!thread || hasSeq(m.seq)) return;
    var li = document.createElement("li");
    li.className = "msg " + m.sender_type + (m.internal ? " note" : "");
    li.dataset.seq = m.seq;
    var whoEl = document.createElement("span");
    whoEl.className = "who";
    var d = thread.dataset;
    var name = m.sender_type === "customer" ? d.customerName : m.sender_id === me ? d.you : m.sender_type === "bot" ? d.bot : d.agent;
    whoEl.textContent = (m.internal ? d.note + " · " : "") + name;
    li.appendChild(whoEl);
    if (m.kind === "attachment" && m.payload && m.payload.attachment) {
      var a = m.payload.attachment;
      var url = "/api/v1/conversations/" + conversationId + "/attachments/" + a.id;
      if (a.content_type.indexOf("image/") === 0) {
        var img = document.createElement("img"); img.src = url; img.alt = a.filename; li.appendChild(img);
      } else {
        var link = document.createElement("a"); link.href = url; link.textContent = "📄 " + a.filename; li.appendChild(link);
      }
    } else {
      var p = document.createElement("p"); p.textContent = m.body; li.appendChild(p);
    }
    var time = document.createElement("span");
    time.className = "muted small";
    time.textContent = new Date(m.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    li.appendChild(time);
    var items = thread.children, placed = false;
    for (var i = items.length - 1; i >= 0; i--) {
      if (Number(items[i].dataset.seq) < m.seq) { items[i].after(li); placed = true; break; }
    }
    if (!placed) thread.prepend(li);
    if (m.seq > lastSeq) lastSeq = m.seq;
    thread.scrollTop = thread.scrollHeight;
  }

  async function fetchMissed() {
    if (!conversationId) return;
    var response = await api("GET", "/conversations/" + conversationId + "/messages?after_seq=" + lastSeq);
    if (!response.ok) return;
    (await response.json()).items.forEach(appendMessage);
    markRead();
  }

  var readTimer = null;
  function markRead() {
    if (!conversationId || !lastSeq) return;
    clearTimeout(readTimer);
    readTimer = setTimeout(function () {
      if (document.visibilityState !== "visible") return;
      api("POST", "/conversations/" + conversationId + "/receipts", { delivered_seq: lastSeq, read_seq: lastSeq });
    }, 500);
  }
  document.addEventListener("visibilitychange", markRead);

  /* ---- events ---- */
  function onEvent(e) {
    // the page's other scripts (attention, copilot) follow the same events
    document.dispatchEvent(new CustomEvent("omnidesk:event", { detail: e }));
    if (e.type === "ready") { backoff = 500; live.textContent = live.dataset.ok || "●"; root.dataset.live = "1"; fetchMissed(); refreshList(); return; }
    if (e.type === "pong") return;
    if (e.type === "resync") { fetchMissed(); refreshList(); return; }
    if (e.type === "presence") return;
    if (e.type === "offer") { refreshOffers(); refreshList(); return; }
    if (e.conversation_id === conversationId) {
      if (e.type === "message") {
        if (e.message.seq > lastSeq + 1) fetchMissed(); else { appendMessage(e.message); markRead(); }
        if (e.message.sender_type === "customer") document.getElementById("typing").hidden = true;
      } else if (e.type === "typing" && e.from === "customer" && e.customer_id === customerId) {
        var typing = document.getElementById("typing");
        typing.hidden = !e.active;
        clearTimeout(window.__typingTimer);
        window.__typingTimer = setTimeout(function () { typing.hidden = true; }, 6000);
      } else if (e.type === "conversation" && e.status) {
        var badge = document.getElementById("conv-status");
        if (badge) { badge.className = "badge " + e.status; badge.textContent = badge.getAttribute("data-label-" + e.status) || e.status; }
      }
    }
    if (e.type === "message" || e.type === "conversation" || e.type === "queue") refreshList();
    else if (e.type === "receipt" && e.party === "agent") refreshList();
  }

  async function connect() {
    var response = await api("POST", "/realtime/token");
    // Signed out, deactivated or a password to choose: the page itself now leads to the right place.
    if (response.status === 401 || response.status === 403) { location.reload(); return; }
    if (!response.ok) throw new Error("token " + response.status);
    var token = (await response.json()).token;
    var socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/realtime/ws");
    ws = socket;
    socket.onopen = function () { socket.send(JSON.stringify({ type: "auth", token: token })); };
    socket.onmessage = function (event) { onEvent(JSON.parse(event.data)); };
    socket.onclose = function () {
      if (ws !== socket) return;
      ws = null;
      live.textContent = "…";
      root.dataset.live = "";
      setTimeout(reconnect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }
  function reconnect() { connect().catch(function () { setTimeout(reconnect, backoff); backoff = Math.min(backoff * 2, 10000); }); }
  setInterval(function () { if (ws && ws.readyState === 1) ws.send('{"type":"ping"}'); }, 20000);

  /* ---- offers ---- */
  async function refreshOffers() {
    // who is asking and their words come rendered from the server, like the list
    var response = await fetch("/inbox/offers", { credentials: "same-origin" });
    if (!response.ok) return;
    var doc = new DOMParser().parseFromString(await response.text(), "text/html");
    var offers = doc.getElementById("offers");
    if (offers) document.getElementById("offers-holder").replaceChildren(document.importNode(offers, true));
    document.dispatchEvent(new CustomEvent("omnidesk:offers"));
  }

  document.addEventListener("click", async function (event) {
    var target = event.target;
    if (target.classList.contains("accept-offer")) {
      var r = await call("POST", "/routing/offers/" + target.dataset.id + "/accept");
      if (await ok(r)) location.href = "/inbox?view=mine&c=" + target.dataset.id; else refreshOffers();
    } else if (target.classList.contains("decline-offer")) {
      await ok(await call("POST", "/routing/offers/" + target.dataset.id + "/decline"));
      refreshOffers();
    }
  });

  /* ---- presence ---- */
  var presence = document.getElementById("presence");
  if (presence) presence.addEventListener("change", async function () { await ok(await call("PUT", "/routing/presence", { status: presence.value })); });

  /* ---- filters update live: changing a select applies it at once ---- */
  var filters = document.getElementById("filters");
  if (filters) filters.addEventListener("change", function () { filters.requestSubmit(); });

  /* ---- reply, note, canned, file ---- */
  var reply = document.getElementById("reply");
  var body = document.getElementById("reply-body");
  function newClientId() {
    var bytes = new Uint8Array(12); crypto.getRandomValues(bytes);
    return "a_" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  if (reply) {
    reply.addEventListener("submit", async function (event) {
      event.preventDefault();
      var text = body.value.trim();
      if (!text) return;
      var note = document.getElementById("as-note").checked;
      var button = document.getElementById("send-reply");
      button.disabled = true;
      var response = note
        ? await call("POST", "/conversations/" + conversationId + "/notes", { body: text })
        : await call("POST", "/conversations/" + conversationId + "/messages", { body: text, client_id: newClientId() });
      button.disabled = false;
      if (await ok(response)) { body.value = ""; appendMessage(await response.json()); }
      body.focus();
    });
    body.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); reply.requestSubmit(); }
    });
    var typingAt = 0;
    body.addEventListener("input", function () {
      if (ws && ws.readyState === 1 && Date.now() - typingAt > 2000) {
        typingAt = Date.now();
        ws.send(JSON.stringify({ type: "typing", conversation_id: conversationId, customer_id: customerId, active: true }));
      }
    });
    /* Slash shortcuts: "/" + a canned response's shortcut offers the matching responses under the composer;
     * Enter or Tab (or a click) puts the chosen text in place of the "/shortcut", Escape closes the list. */
    var slashMenu = document.getElementById("slash-menu");
    var slashChoice = 0;
    var cannedOptions = Array.prototype.slice.call(document.querySelectorAll("#canned option[data-shortcut]"));
    function slashToken() {
      var upto = body.value.slice(0, body.selectionStart);
      var match = upto.match(/(^|\s)\/([^\s\/]*)$/);
      return match ? { start: upto.length - match[2].length - 1, prefix: match[2].toLowerCase() } : null;
    }
    function closeSlash() { slashMenu.hidden = true; slashMenu.replaceChildren(); }
    function openSlash() {
      var token = slashToken();
      var found = token ? cannedOptions.filter(function (o) { return o.dataset.shortcut.toLowerCase().indexOf(token.prefix) === 0; }).slice(0, 8) : [];
      if (!found.length) { closeSlash(); return; }
      slashChoice = Math.min(slashChoice, found.length - 1);
      slashMenu.replaceChildren();
      found.forEach(function (o, i) {
        var item = document.createElement("li");
        item.setAttribute("role", "option");
        item.dataset.id = o.value;
        item.setAttribute("aria-selected", i === slashChoice ? "true" : "false");
        item.textContent = o.textContent;
        item.addEventListener("mousedown", function (event) { event.preventDefault(); insertCanned(o.value); });
        slashMenu.appendChild(item);
      });
      slashMenu.hidden = false;
    }
    async function insertCanned(id) {
      var token = slashToken();
      closeSlash();
      var response = await call("GET", "/conversations/" + conversationId + "/canned-responses/" + id);
      if (!(await ok(response))) return;
      var text = (await response.json()).text;
      var start = token ? token.start : body.selectionStart, end = body.selectionStart;
      body.value = body.value.slice(0, start) + text + body.value.slice(end);
      body.selectionStart = body.selectionEnd = start + text.length;
      body.focus();
    }
    body.addEventListener("input", function () { slashChoice = 0; openSlash(); });
    body.addEventListener("blur", function () { setTimeout(closeSlash, 150); });
    body.addEventListener("keydown", function (event) {
      if (slashMenu.hidden) return;
      var items = slashMenu.querySelectorAll("li");
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        slashChoice = (slashChoice + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        openSlash();
      } else if ((event.key === "Enter" && !event.ctrlKey && !event.metaKey) || event.key === "Tab") {
        event.preventDefault();
        event.stopImmediatePropagation();
        insertCanned(items[slashChoice].dataset.id);
      } else if (event.key === "Escape") { closeSlash(); }
    });
    document.getElementById("canned").addEventListener("change", async function (event) {
      var id = event.target.value;
      if (!id) return;
      var response = await call("GET", "/conversations/" + conversationId + "/canned-responses/" + id);
      if (await ok(response)) {
        var text = (await response.json()).text;
        body.value = body.value ? body.value + "\n" + text : text;
        body.focus();
      }
      event.target.value = "";
    });
    document.getElementById("reply-file").addEventListener("change", async function (event) {
      var file = event.target.files[0];
      event.target.value = "";
      if (!file) return;
      var form = new FormData(); form.append("file", file); form.append("client_id", newClientId());
      var response = await call("POST", "/conversations/" + conversationId + "/attachments", form, true);
      if (await ok(response)) appendMessage(await response.json());
    });
  }

  /* ---- resolve / reopen / snooze / assign ---- */
  ["resolve", "reopen"].forEach(function (id) {
    var button = document.getElementById(id);
    if (button) button.addEventListener("click", async function () {
      var response = await call("PATCH", "/conversations/" + conversationId, { status: button.dataset.status });
      if (await ok(response)) location.reload();
    });
  });
  var snooze = document.getElementById("snooze");
  if (snooze) snooze.addEventListener("submit", async function (event) {
    event.preventDefault();
    var until = new Date(snooze.elements.until.value);
    var response = await call("PATCH", "/conversations/" + conversationId, { status: "snoozed", snoozed_until: until.toISOString() });
    if (await ok(response)) location.reload();
  });
  var assign = document.getElementById("assign");
  if (assign) assign.addEventListener("submit", async function (event) {
    event.preventDefault();
    var data = new FormData(assign);
    var payload = { note: String(data.get("note") || "") };
    if (data.get("assignee_id")) payload.assignee_id = data.get("assignee_id");
    if (data.get("team_id")) payload.team_id = data.get("team_id");
    var response = await call("POST", "/conversations/" + conversationId + "/assign", payload);
    if (!(await ok(response))) return;
    var moved = await response.json();
    // Handed to someone else: it may no longer be in this agent's view, so go back to their own inbox.
    if (moved.assignee_id && moved.assignee_id !== me) location.href = "/inbox?view=mine"; else location.reload();
  });

  /* ---- keyboard shortcuts (not while typing) ---- */
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "textarea" || tag === "input" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) return;
    var links = Array.prototype.slice.call(document.querySelectorAll("#conv-list a"));
    var index = links.findIndex(function (a) { return a.getAttribute("aria-current") === "true"; });
    if (event.key === "j" && links.length) { location.href = links[Math.min(index + 1, links.length - 1)].href; }
    else if (event.key === "k" && links.length) { location.href = links[Math.max(index - 1, 0)].href; }
    else if (event.key === "r" && body) { event.preventDefault(); body.focus(); }
    else if (event.key === "e") { var r = document.getElementById("resolve"); if (r) r.click(); }
    else if (event.key === "a") { var a = document.querySelector(".accept-offer"); if (a) a.click(); }
  });

  if (thread) { thread.scrollTop = thread.scrollHeight; markRead(); }
  reconnect();
})();
