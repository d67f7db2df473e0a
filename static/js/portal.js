// Every page: say so when an htmx request fails. htmx swaps nothing on a 4xx/5xx (see the htmx-config meta tag),
// so without this a refused or failed request looks like a button that does nothing. The messages come from the
// #request-error region's data attributes (rendered by the server, so they can be translated); the region is an
// aria-live alert that exists from page load, so screen readers announce it when it is filled.
(function () {
  "use strict";
  function region() { return document.getElementById("request-error"); }
  function show(key) {
    var box = region();
    if (!box) { return; }
    box.querySelector("p").textContent = box.getAttribute("data-" + key);
    box.hidden = false;
  }
  document.addEventListener("htmx:beforeRequest", function () {
    var box = region();
    if (box) { box.hidden = true; }
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    show(status === 403 ? "forbidden" : status === 429 ? "busy" : status < 500 ? "refused" : "failed");
  });
  document.addEventListener("htmx:sendError", function () { show("offline"); });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("#request-error button")) { region().hidden = true; }
  });
})();
