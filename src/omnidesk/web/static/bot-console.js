// The "test your assistant" console: posts to /api/v1/bot/answer with the session's CSRF token and shows the
// reply with its kind, confidence, knowledge id, intent, entities and sentiment. Text is inserted with
// textContent only, never as HTML.
(function () {
  "use strict";
  var form = document.getElementById("bot-console");
  if (!form) { return; }
  var log = document.getElementById("bot-log");
  var input = document.getElementById("bot-text");
  var tags = document.getElementById("bot-tags");
  var state = {};

  function line(cls, text) {
    var item = document.createElement("div");
    item.className = "bot-line " + cls;
    item.textContent = text;
    log.appendChild(item);
    return item;
  }

  function ask(text) {
    line("me", text);
    var body = {
      text: text,
      state: state,
      customer_tags: tags.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean)
    };
    fetch("/api/v1/bot/answer", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
      .then(function (res) {
        if (!res.ok) { line("error", res.data.detail || "error"); return; }
        var d = res.data;
        state = d.state || {};
        var reply = line("bot", d.text);
        reply.setAttribute("data-kind", d.kind);
        (d.buttons || []).forEach(function (b) {
          var btn = document.createElement("button");
          btn.type = "button";
          btn.className = "chip";
          btn.textContent = b.label;
          btn.addEventListener("click", function () { ask(b.value); });
          reply.appendChild(btn);
        });
        var meta = [d.kind, d.reason, "confidence " + d.confidence.toFixed(2)];
        if (d.knowledge_id) { meta.push("knowledge " + d.knowledge_id); }
        if (d.intent && d.intent.label) { meta.push("intent " + d.intent.label + " " + d.intent.confidence); }
        if (d.entities.length) { meta.push("entities " + d.entities.map(function (e) { return e.kind + "=" + e.value; }).join(", ")); }
        meta.push("sentiment " + d.sentiment.label);
        line("meta muted", meta.join(" · "));
      })
      .catch(function () { line("error", "network error"); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (text) { ask(text); input.value = ""; }
  });
  document.getElementById("bot-reset").addEventListener("click", function () {
    state = {};
    log.textContent = "";
  });
})();
