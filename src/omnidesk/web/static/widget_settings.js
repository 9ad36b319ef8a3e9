/* Saves the widget's allowed origins through the JSON API. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var form = document.getElementById("widget-origins");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var origins = form.elements.origins.value.split(/\s+/).filter(Boolean);
    var response = await fetch("/api/v1/widget/config", {
      method: "PATCH", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ allowed_origins: origins }),
    });
    document.getElementById("saved").textContent = response.ok ? "✓" : "✗ " + response.status;
  });
})();
