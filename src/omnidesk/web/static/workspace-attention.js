/* Getting the agent's attention: the unread count in the tab title, and (opt-in, remembered per agent in this
 * browser) a short sound and a desktop notification for a new offer or a customer's message the agent is not
 * looking at. Follows the events workspace.js re-dispatches; names come from the server-rendered list/offers.
 */
(function () {
  "use strict";
  var root = document.getElementById("workspace");
  if (!root) return;
  var key = "omnidesk.attention." + root.dataset.user;
  var toggle = document.getElementById("attention-toggle");
  var i18n = document.getElementById("attention-i18n").dataset;
  var baseTitle = document.title;
  var audio = null;

  function enabled() { try { return localStorage.getItem(key) === "on"; } catch (e) { return false; } }
  if (toggle) {
    toggle.checked = enabled();
    toggle.addEventListener("change", function () {
      try { localStorage.setItem(key, toggle.checked ? "on" : "off"); } catch (e) { /* private mode: not kept */ }
      if (toggle.checked && "Notification" in window && Notification.permission === "default") Notification.requestPermission();
    });
  }

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.08;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.15);
    } catch (e) { /* no audio: the notification still shows */ }
  }

  function alert(text, conversationId) {
    if (!enabled()) return;
    beep();
    if ("Notification" in window && Notification.permission === "granted") {
      var n = new Notification(text, { tag: "omnidesk-" + conversationId });
      n.onclick = function () { window.focus(); location.href = "/inbox?view=all&c=" + conversationId; };
    }
    root.dataset.lastAlert = text;  // what a test (or a screen reader hook) can read
  }

  function whoOf(conversationId) {
    var row = document.querySelector('#conv-list li[data-id="' + conversationId + '"]');
    return row ? row.dataset.who : "";
  }

  function updateTitle() {
    var list = document.getElementById("conv-list");
    var unread = list ? Number(list.dataset.unreadTotal || 0) : 0;
    document.title = unread > 0 ? "(" + unread + ") " + baseTitle : baseTitle;
  }

  var knownOffers = {};
  function rememberOffers(announce) {
    document.querySelectorAll("#offers .offer").forEach(function (o) {
      if (!knownOffers[o.dataset.id] && announce) alert(i18n.offer.replace("{who}", o.dataset.who), o.dataset.id);
      knownOffers[o.dataset.id] = true;
    });
  }

  // a message alert waits for the refreshed list, which names a brand-new conversation's customer
  var pending = [];
  function flush() {
    pending.splice(0).forEach(function (id) { alert(i18n.message.replace("{who}", whoOf(id) || "…"), id); });
  }
  document.addEventListener("omnidesk:list", function () { updateTitle(); flush(); });
  document.addEventListener("omnidesk:offers", function () { rememberOffers(true); });
  document.addEventListener("omnidesk:event", function (event) {
    var e = event.detail;
    if (e.type !== "message" || !e.message || e.message.sender_type !== "customer" || e.message.internal) return;
    var looking = e.conversation_id === root.dataset.conversation && document.visibilityState === "visible";
    if (!looking && pending.indexOf(e.conversation_id) < 0) { pending.push(e.conversation_id); setTimeout(flush, 2000); }
  });
  // waiting times keep counting between list refreshes
  function short(seconds) {
    var units = [["d", 86400], ["h", 3600], ["m", 60]];
    for (var i = 0; i < units.length; i++) if (seconds >= units[i][1]) return Math.floor(seconds / units[i][1]) + units[i][0];
    return Math.max(0, Math.floor(seconds)) + "s";
  }
  setInterval(function () {
    document.querySelectorAll("#conv-list .waited[data-since]").forEach(function (span) {
      var since = Date.parse(span.dataset.since);
      if (!isNaN(since)) span.textContent = span.dataset.template.replace("{time}", short((Date.now() - since) / 1000));
    });
  }, 15000);
  rememberOffers(false);
  updateTitle();
})();
