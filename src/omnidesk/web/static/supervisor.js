/* The supervisor page refreshes its panel when routing or conversation events arrive, and ticks wait times. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var live = document.getElementById("live");
  var timer = null;
  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(async function () {
      var response = await fetch("/supervisor/panel", { credentials: "same-origin" });
      if (!response.ok) return;
      var doc = new DOMParser().parseFromString(await response.text(), "text/html");
      document.getElementById("panel").replaceChildren.apply(document.getElementById("panel"),
        Array.prototype.map.call(doc.body.children, function (n) { return document.importNode(n, true); }));
    }, 300);
  }
  setInterval(function () {
    document.querySelectorAll(".wait[data-since]").forEach(function (cell) {
      var seconds = Math.max(0, Math.floor((Date.now() - Date.parse(cell.dataset.since)) / 1000));
      cell.textContent = Math.floor(seconds / 60) + ":" + ("0" + (seconds % 60)).slice(-2);
    });
  }, 1000);
  setInterval(refresh, 15000);
  var backoff = 500;
  async function connect() {
    var response = await fetch("/api/v1/realtime/token", { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
    if (response.status === 401 || response.status === 403) { location.reload(); return; }
    if (!response.ok) throw new Error("token");
    var token = (await response.json()).token;
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/realtime/ws");
    ws.onopen = function () { ws.send(JSON.stringify({ type: "auth", token: token })); };
    ws.onmessage = function (event) {
      var e = JSON.parse(event.data);
      if (e.type === "ready") { live.textContent = "●"; backoff = 500; refresh(); return; }
      if (["queue", "offer", "presence", "conversation", "resync"].indexOf(e.type) >= 0) refresh();
    };
    ws.onclose = function () { live.textContent = "…"; setTimeout(reconnect, backoff); backoff = Math.min(backoff * 2, 10000); };
  }
  function reconnect() { connect().catch(function () { setTimeout(reconnect, backoff); }); }
  reconnect();
})();
