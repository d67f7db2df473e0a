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
// Toasts (macros/toasts.html): a close button removes one; a success note ("data-autohide") fades from view after
// 8 seconds, paused while the pointer or focus is on it and never when the visitor asks for reduced motion. A faded
// toast stays in the #toasts live region, visually hidden, so it is announced and remains readable by screen readers.
(function () {
  "use strict";
  var DELAY = 8000;
  var calm = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  function schedule(toast) {
    if (toast.dataset.scheduled || calm || !toast.hasAttribute("data-autohide")) { return; }
    toast.dataset.scheduled = "1";
    var timer;
    function start() { timer = window.setTimeout(quiet, DELAY); }
    function quiet() {
      if (toast.matches(":hover") || toast.contains(document.activeElement)) { start(); return; }
      toast.classList.add("fading");
      window.setTimeout(function () { toast.classList.add("quiet"); }, 300);
    }
    start();
  }
  function scan() {
    Array.prototype.forEach.call(document.querySelectorAll("#toasts .toast"), schedule);
  }
  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest(".toast-close");
    if (close) { close.closest(".toast").remove(); }
  });
  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:oobAfterSwap", scan);
  document.addEventListener("htmx:afterSettle", scan);
})();
// After an htmx swap, keyboard and screen-reader users land in the swapped region: its first invalid field, else
// its heading, else the region itself. Only when the swap took their focus away (the focused element was replaced
// and focus fell back to <body>): someone typing in the live search keeps the caret where it is.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var region = target && target.id ? document.getElementById(target.id) : null;
    if (!region || region.id === "toasts") { return; }
    var active = document.activeElement;
    if (active && active !== document.body && document.documentElement.contains(active)) { return; }
    var spot = region.querySelector("[aria-invalid='true']") || region.querySelector("h1, h2, h3") || region;
    if (!spot.matches("a, button, input, select, textarea, [tabindex]")) { spot.setAttribute("tabindex", "-1"); }
    spot.focus();
  });
})();
