// Training progress on /admin/assistant: while the newest model is queued or training, poll
// /admin/assistant/training once a second and show its stage, elapsed seconds and estimated percentage; when it
// is done, reload the page once so the model list shows the new version. Text is set with textContent only.
(function () {
  "use strict";
  var box = document.getElementById("training");
  if (!box) { return; }
  var bar = document.getElementById("training-bar");
  var text = document.getElementById("training-text");
  var running = { queued: true, training: true };
  if (!running[box.dataset.stage]) { return; }

  function show(state) {
    var template = box.getAttribute("data-text-" + state.stage) || "";
    var line = template.replace("{version}", String(state.version)).replace("{seconds}", String(state.elapsed_seconds));
    if (state.percent !== null && state.stage === "training") {
      line += " · ≈" + state.percent + " %";
      bar.value = state.percent;
    } else if (state.stage === "ready") {
      bar.value = 100;
    } else if (state.percent === null) {
      bar.removeAttribute("value");
    }
    text.textContent = line;
    box.dataset.stage = state.stage;
  }

  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || !body.training) { return; }
        show(body.training);
        if (running[body.training.stage]) {
          window.setTimeout(poll, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();
