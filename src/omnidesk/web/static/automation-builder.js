// The automation form builder's rows: "add" clones the row's last blank twin, "remove" takes a row out (a last
// row is cleared instead). Without JavaScript the page already offers two blank rows of each; the server reads
// the rows in page order and validates the whole rule either way.
(function () {
  "use strict";
  function clear(row) {
    row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    row.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
  }
  function wire(row) {
    var button = row.querySelector(".remove-row");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var list = row.parentElement;
      if (list.children.length > 1) {
        var next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        var focus = next && next.querySelector("select, input");
        if (focus) focus.focus();
      } else {
        clear(row);
      }
    });
  }
  document.querySelectorAll("fieldset.builder").forEach(function (set) {
    var list = set.querySelector("ol.rows");
    var add = set.querySelector(".add-row");
    var max = parseInt(set.getAttribute("data-max") || "20", 10);
    list.querySelectorAll(".rule-row").forEach(wire);
    if (!add) return;
    add.hidden = false;
    add.addEventListener("click", function () {
      if (list.children.length >= max) return;
      var copy = list.lastElementChild.cloneNode(true);
      clear(copy);
      list.appendChild(copy);
      wire(copy);
      copy.querySelector("select").focus();
    });
  });
})();
