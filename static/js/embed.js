// Embedded mode: tell the framing storefront how tall the page is, so it can size its iframe.
// Messages go only to the organization's allowed origins (data-origins on this script tag);
// postMessage drops a message whose target origin is not the parent's, so listing them all is safe.
(function () {
  "use strict";
  var script = document.currentScript;
  var origins = [];
  try { origins = JSON.parse(script.getAttribute("data-origins") || "[]"); } catch (e) { origins = []; }
  if (window.parent === window || !origins.length) { return; }
  var last = 0;
  function report() {
    var height = Math.ceil(document.documentElement.scrollHeight);
    if (height === last) { return; }
    last = height;
    origins.forEach(function (origin) {
      window.parent.postMessage({ type: "customer-portal:height", height: height }, origin);
    });
  }
  if ("ResizeObserver" in window) { new ResizeObserver(report).observe(document.documentElement); }
  document.addEventListener("htmx:afterSettle", report);
  window.addEventListener("load", report);
  report();
})();
