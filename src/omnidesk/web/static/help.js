// Help-center search suggestions as you type. Progressive enhancement: the form works without this file.
// Suggestions come from the tenant's public JSON endpoint; their HTML is server-escaped with <mark> only.
(function () {
  "use strict";
  var form = document.querySelector("form.hc-search[data-suggest]");
  if (!form) { return; }
  var input = form.querySelector("input[type=search]");
  var list = form.querySelector(".hc-suggestions");
  var timer = null;
  var last = "";

  function clear() { list.hidden = true; while (list.firstChild) { list.removeChild(list.firstChild); } }

  function show(items) {
    clear();
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      var a = document.createElement("a");
      a.href = item.url;
      a.textContent = item.title;
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = items.length === 0;
  }

  function fetchSuggestions() {
    var q = input.value.trim();
    if (q === last) { return; }
    last = q;
    if (!q) { clear(); return; }
    fetch(form.getAttribute("data-suggest") + "&q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) { if (input.value.trim() === q) { show(data.items || []); } })
      .catch(clear);
  }

  input.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(fetchSuggestions, 150);
  });
  input.addEventListener("keydown", function (e) { if (e.key === "Escape") { clear(); } });
  document.addEventListener("click", function (e) { if (!form.contains(e.target)) { clear(); } });
}());
