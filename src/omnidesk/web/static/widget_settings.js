/* Live chat settings: the widget's allowed origins, canned responses and the routing time-out, saved through the
 * JSON API (the same checks as any API client); the page reloads after a change so it shows what is stored. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var notSaved = document.querySelector('meta[name="msg-not-saved"]').content;

  async function api(method, path, body) {
    var response = await fetch("/api/v1" + path, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.ok) return { ok: true };
    var detail = String(response.status);
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    return { ok: false, detail: detail };
  }

  function report(node, result) { node.textContent = result.ok ? "✓" : "✗ " + notSaved + " " + result.detail; }

  var origins = document.getElementById("widget-origins");
  origins.addEventListener("submit", async function (event) {
    event.preventDefault();
    var list = origins.elements.origins.value.split(/\s+/).filter(Boolean);
    report(document.getElementById("saved"), await api("PATCH", "/widget/config", { allowed_origins: list }));
  });

  var canned = document.getElementById("canned-form");
  canned.addEventListener("submit", async function (event) {
    event.preventDefault();
    var id = canned.elements.id.value;
    var body = { shortcut: canned.elements.shortcut.value.trim(), title: canned.elements.title.value.trim(),
                 body: canned.elements.body.value.trim() };
    var result = await api(id ? "PATCH" : "POST", id ? "/canned-responses/" + id : "/canned-responses", body);
    report(document.getElementById("canned-status"), result);
    if (result.ok) location.reload();
  });
  document.querySelectorAll("#canned-list tr[data-id]").forEach(function (row) {
    row.querySelector(".canned-edit").addEventListener("click", function () {
      canned.elements.id.value = row.dataset.id;
      canned.elements.shortcut.value = row.dataset.shortcut;
      canned.elements.title.value = row.dataset.title;
      canned.elements.body.value = row.dataset.body;
      document.getElementById("canned-form-title").textContent =
        canned.dataset.editing.split("{shortcut}").join(row.dataset.shortcut);
      canned.elements.shortcut.focus();
    });
    row.querySelector(".canned-delete").addEventListener("click", async function () {
      var result = await api("DELETE", "/canned-responses/" + row.dataset.id);
      report(document.getElementById("canned-status"), result);
      if (result.ok) location.reload();
    });
  });

  // The widget's forms: the pre-chat fields (standard ones switched on/off, custom ones with a key and a label;
  // a custom row with an empty key is left out) and when to offer the offline form.
  var forms = document.getElementById("forms-form");
  forms.addEventListener("submit", async function (event) {
    event.preventDefault();
    var fields = [];
    forms.querySelectorAll("#prechat-fields tbody tr").forEach(function (row) {
      var enabled = row.querySelector('[name="enabled"]').checked;
      var required = row.querySelector('[name="required"]').checked;
      if (row.dataset.standard) {
        if (enabled || required) fields.push({ key: row.dataset.standard, enabled: enabled, required: required });
        return;
      }
      var key = row.querySelector('[name="key"]').value.trim();
      if (!key) return;
      fields.push({ key: key, label: row.querySelector('[name="label"]').value.trim(), enabled: enabled, required: required });
    });
    var result = await api("PATCH", "/widget/config", {
      prechat: { enabled: forms.elements.prechat_enabled.checked, fields: fields },
      offline_form: forms.elements.offline_form.value,
    });
    report(document.getElementById("forms-status"), result);
    if (result.ok) location.reload();
  });

  var routing = document.getElementById("routing-form");
  routing.addEventListener("submit", async function (event) {
    event.preventDefault();
    var seconds = parseInt(routing.elements.accept_timeout_seconds.value, 10);
    report(document.getElementById("routing-status"),
      await api("PUT", "/routing/policy", { accept_timeout_seconds: seconds }));
  });
})();
