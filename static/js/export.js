// The customer CSV export with progress. The export is one streamed response (services/search.export_csv writes it
// a keyset batch at a time), so the honest progress is what has arrived: this script fetches the same URL the link
// names, counts the CSV records as they stream in (an indeterminate <progress> and a running count: the total is not
// known without a COUNT(*), which a million-customer search does not afford), then hands the file to the browser as
// a download. Cancel aborts the request. Without JavaScript (or with a modifier key) the link downloads directly.
(function () {
  "use strict";
  function box() { return document.getElementById("export-progress"); }
  function say(key, count) {
    var region = box();
    region.querySelector(".export-status").textContent =
      region.getAttribute("data-" + key).replace("%(count)s", count.toLocaleString());
  }
  function records(text, state) {
    for (var i = 0; i < text.length; i++) {
      var ch = text.charCodeAt(i);
      if (ch === 34) { state.quoted = !state.quoted; } else if (ch === 10 && !state.quoted) { state.rows += 1; }
    }
  }
  function filename(response) {
    var match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return match ? match[1] : "customers.csv";
  }
  async function run(url) {
    var region = box();
    var controller = new AbortController();
    var state = { quoted: false, rows: 0 };
    var chunks = [];
    var decoder = new TextDecoder();
    region.hidden = false;
    region.querySelector("progress").hidden = false;
    region.querySelector("button").hidden = false;
    region.querySelector("button").onclick = function () { controller.abort(); };
    say("started", 0);
    var counter = region.querySelector(".export-count");
    try {
      var response = await fetch(url, { credentials: "same-origin", signal: controller.signal });
      if (!response.ok) { throw new Error(String(response.status)); }
      var reader = response.body.getReader();
      for (;;) {
        var part = await reader.read();
        if (part.done) { break; }
        chunks.push(part.value);
        records(decoder.decode(part.value, { stream: true }), state);
        counter.textContent = Math.max(state.rows - 1, 0).toLocaleString();
      }
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob(chunks, { type: "text/csv" }));
      link.download = filename(response);
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 60000);
      say("done", Math.max(state.rows - 1, 0));
    } catch (error) {
      say(error.name === "AbortError" ? "cancelled" : "failed", Math.max(state.rows - 1, 0));
    } finally {
      region.querySelector("progress").hidden = true;
      region.querySelector("button").hidden = true;
      counter.textContent = "";
    }
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-export]");
    if (!link || !box() || !window.fetch || !window.ReadableStream) { return; }
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) { return; }
    event.preventDefault();
    run(link.href);
  });
})();
