/* The conversation sidebar's live parts: the copilot panel (GET /api/v1/conversations/<id>/assist: knowledge and
 * reply suggestions inserted into the composer with one click, the summary, intent and sentiment; refreshed when
 * the customer writes) and creating a ticket from the conversation. Texts are inserted with textContent only.
 */
(function () {
  "use strict";
  var root = document.getElementById("workspace");
  var panel = document.getElementById("copilot");
  if (!root || !root.dataset.conversation) return;
  var conversationId = root.dataset.conversation;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function insert(text) {
    var body = document.getElementById("reply-body");
    if (!body) return;
    body.value = body.value.trim() ? body.value.replace(/\s+$/, "") + "\n" + text : text;
    body.focus();
    body.dispatchEvent(new Event("input", { bubbles: true }));
  }

  /* ---- copilot ---- */
  if (panel) {
    var t = panel.dataset;
    var status = document.getElementById("copilot-status");
    var canInsert = !!document.getElementById("reply-body");

    function suggestion(list, title, text, source, score) {
      var li = el("li", "suggestion");
      var head = el("div", "suggestion-head");
      head.appendChild(el("span", "badge", t["source" + source.charAt(0).toUpperCase() + source.slice(1)] || source));
      head.appendChild(el("strong", "", " " + title));
      li.appendChild(head);
      li.appendChild(el("p", "suggestion-text", text.length > 220 ? text.slice(0, 220) + "…" : text));
      if (canInsert) {
        var button = el("button", "secondary small insert-suggestion", t.insert);
        button.type = "button";
        button.addEventListener("click", function () { insert(text); });
        li.appendChild(button);
      }
      li.title = String(Math.round(score * 100) / 100);
      list.appendChild(li);
    }

    function render(data) {
      var knowledge = document.getElementById("copilot-knowledge");
      var replies = document.getElementById("copilot-replies");
      knowledge.replaceChildren(); replies.replaceChildren();
      data.knowledge.forEach(function (k) { suggestion(knowledge, k.title, k.text, k.source, k.score); });
      data.replies.forEach(function (r) { suggestion(replies, r.title, r.text, r.source, r.score); });
      if (!data.knowledge.length) knowledge.appendChild(el("li", "muted", t.none));
      if (!data.replies.length) replies.appendChild(el("li", "muted", t.none));
      var summary = document.getElementById("copilot-summary");
      summary.replaceChildren();
      if (data.summary.kind === "llm") {
        summary.appendChild(el("p", "", data.summary.text));
        summary.appendChild(el("p", "muted", "(" + t.llm + ")"));
      } else {
        data.summary.text.split("\n").forEach(function (line) { summary.appendChild(el("p", "", line)); });
      }
      var understanding = document.getElementById("copilot-understanding");
      understanding.replaceChildren();
      var u = data.understanding;
      if (u) {
        if (u.intent) understanding.appendChild(el("p", "", t.intent + ": " + u.intent.title + " (" + Math.round(u.intent.confidence * 100) + "%)"));
        var mood = t["mood" + u.sentiment.label.charAt(0).toUpperCase() + u.sentiment.label.slice(1)] || u.sentiment.label;
        var line = el("p", "", t.sentiment + ": ");
        line.appendChild(el("span", "badge mood-" + u.sentiment.label, mood));
        if (u.sentiment.complaint) line.appendChild(el("span", "badge prio-urgent", t.complaint));
        if (u.sentiment.urgent) line.appendChild(el("span", "badge prio-high", t.urgent));
        understanding.appendChild(line);
      } else {
        understanding.appendChild(el("p", "muted", t.none));
      }
    }

    var loading = null, again = false;
    async function load() {
      if (loading) { again = true; return; }
      status.textContent = t.loading;
      loading = fetch("/api/v1/conversations/" + conversationId + "/assist?lang=" + encodeURIComponent(t.lang),
                      { credentials: "same-origin", headers: { "Accept": "application/json" } });
      try {
        var response = await loading;
        if (!response.ok) throw new Error(String(response.status));
        render(await response.json());
        status.textContent = "";
        panel.dataset.ready = "1";
      } catch (e) {
        status.textContent = t.failed;
      } finally {
        loading = null;
        if (again) { again = false; load(); }
      }
    }
    var timer = null;
    document.addEventListener("omnidesk:event", function (event) {
      var e = event.detail;
      if (e.type === "message" && e.conversation_id === conversationId && e.message && e.message.sender_type === "customer") {
        clearTimeout(timer); timer = setTimeout(load, 400);
      }
    });
    document.getElementById("copilot-refresh").addEventListener("click", load);
    load();
  }

  /* ---- create a ticket from the conversation ---- */
  var form = document.getElementById("ticket-create");
  if (form) form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var out = document.getElementById("ticket-create-status");
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    var payload = { subject: form.elements.subject.value.trim(), description: form.elements.description.value, conversation_id: conversationId };
    try {
      var response = await fetch("/api/v1/tickets", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(payload),
      });
      var data = await response.json().catch(function () { return {}; });
      if (!response.ok) throw new Error(data.detail || data.title || String(response.status));
      out.textContent = form.dataset.created.replace("{number}", data.number);
      location.reload();
    } catch (e) {
      out.textContent = form.dataset.failed.replace("{detail}", e.message);
      button.disabled = false;
    }
  });
})();
