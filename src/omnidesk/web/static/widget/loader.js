/* OmniDesk widget loader: one <script> tag on any site adds a chat button and the chat in an iframe.
 *
 *   <script src="https://desk.example/static/widget/loader.js" data-omnidesk-tenant="demo" async></script>
 *
 * Optional, before the tag: window.OmniDeskSettings = { identifier: "user-42", identifier_issued_at: 1767225600,
 * identifier_hash: "<hex HMAC>", name: "..." } where the hash is HMAC-SHA256("<identifier>:<issued_at>") computed
 * on the host site's server with the workspace's identity secret when it renders the page (valid 10 minutes by
 * default). Pages that stay open longer may add refreshIdentity: a function returning (a promise of) a freshly
 * signed { identifier, identifier_issued_at, identifier_hash }; it is called when the widget reports the token
 * expired. Messages to and from the iframe are checked against the widget's own origin.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__omnideskLoaded) return;
  window.__omnideskLoaded = true;
  var tenant = script.getAttribute("data-omnidesk-tenant");
  var origin = new URL(script.src).origin;
  var lang = (navigator.language || "zh-CN").toLowerCase().indexOf("zh") === 0 ? "zh-CN" : "en";

  var button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-label", lang === "zh-CN" ? "打开在线客服" : "Open chat");
  button.setAttribute("aria-expanded", "false");
  button.textContent = "💬";
  button.style.cssText = "position:fixed;right:16px;bottom:16px;width:56px;height:56px;border-radius:50%;border:0;" +
    "background:#1f6feb;color:#fff;font-size:26px;cursor:pointer;box-shadow:0 4px 12px rgba(0,0,0,.25);z-index:2147483646";

  var frame = document.createElement("iframe");
  frame.title = lang === "zh-CN" ? "在线客服" : "Chat";
  frame.src = origin + "/chat/" + encodeURIComponent(tenant) + "?embed=1&lang=" + lang;
  frame.setAttribute("allow", "clipboard-write");
  frame.style.cssText = "position:fixed;right:16px;bottom:84px;width:min(380px,calc(100vw - 32px));" +
    "height:min(600px,calc(100vh - 100px));border:0;border-radius:12px;box-shadow:0 8px 28px rgba(0,0,0,.3);" +
    "display:none;z-index:2147483647;background:#fff";

  function toggle(open) {
    frame.style.display = open ? "block" : "none";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) frame.focus();
  }
  button.addEventListener("click", function () { toggle(frame.style.display === "none"); });

  function identify(s) {
    if (!s || !s.identifier) return;
    frame.contentWindow.postMessage({ type: "omnidesk:identify", identifier: String(s.identifier),
      identifier_issued_at: Number(s.identifier_issued_at) || null, identifier_hash: String(s.identifier_hash || ""),
      name: s.name ? String(s.name) : undefined }, origin);
  }

  var refreshing = false;
  window.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    var settings = window.OmniDeskSettings;
    if (data.type === "omnidesk:close") { toggle(false); button.focus(); }
    if (data.type === "omnidesk:ready") identify(settings);
    if (data.type === "omnidesk:identity-refused" && settings && typeof settings.refreshIdentity === "function" &&
        !refreshing) {
      refreshing = true;  // one refresh per refusal: a host that keeps signing stale tokens does not loop
      Promise.resolve(settings.refreshIdentity()).then(function (fresh) {
        if (fresh && fresh.identifier) identify({ identifier: fresh.identifier, identifier_issued_at:
          fresh.identifier_issued_at, identifier_hash: fresh.identifier_hash, name: fresh.name || settings.name });
      }).catch(function () { /* stay anonymous */ }).then(function () {
        setTimeout(function () { refreshing = false; }, 60000);
      });
    }
  });

  document.body.appendChild(frame);
  document.body.appendChild(button);
})();
