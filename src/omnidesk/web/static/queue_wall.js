/* The queue wall refreshes its panel every few seconds (waiting counts and longest waits move by themselves). */
(function () {
  "use strict";
  var wall = document.getElementById("wall");
  setInterval(async function () {
    if (document.activeElement && wall.contains(document.activeElement) && document.activeElement.tagName === "SELECT") return;
    var response = await fetch("/supervisor/queues/panel", { credentials: "same-origin" });
    if (!response.ok) return;
    var doc = new DOMParser().parseFromString(await response.text(), "text/html");
    wall.replaceChildren.apply(wall, Array.prototype.map.call(doc.body.children, function (n) { return document.importNode(n, true); }));
  }, 3000);
})();
