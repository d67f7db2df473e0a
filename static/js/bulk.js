// The customer list's bulk selection: ticks survive live search and paging (htmx swaps #results, not the #bulk form
// above it), a header box ticks the whole page, and the count says how many are selected. Ticked customers that are
// not on the current page travel as hidden inputs of the form. Without JavaScript the row boxes still post with the
// form (form="bulk"), one page at a time.
(function () {
  "use strict";
  var selected = new Set();
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#results input.select-row")); }
  function sync() {
    var form = document.getElementById("bulk");
    if (!form) { return; }
    var visible = new Set();
    rows().forEach(function (box) { box.checked = selected.has(box.value); visible.add(box.value); });
    var kept = document.getElementById("bulk-kept");
    kept.textContent = "";
    selected.forEach(function (id) {
      if (visible.has(id)) { return; }
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "ids"; input.value = id;
      kept.appendChild(input);
    });
    var all = document.getElementById("select-page");
    if (all) {
      all.hidden = rows().length === 0;
      all.checked = rows().length > 0 && rows().every(function (box) { return box.checked; });
    }
    var count = document.getElementById("bulk-count");
    count.textContent = selected.size ? selected.size + " selected" : "";
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("#results input.select-row")) {
      if (target.checked) { selected.add(target.value); } else { selected.delete(target.value); }
      sync();
    } else if (target.id === "select-page") {
      rows().forEach(function (box) {
        if (target.checked) { selected.add(box.value); } else { selected.delete(box.value); }
      });
      sync();
    }
  });
  document.addEventListener("htmx:afterSettle", sync);
  document.addEventListener("DOMContentLoaded", function () {
    rows().forEach(function (box) { if (box.checked) { selected.add(box.value); } });
    sync();
  });
})();
