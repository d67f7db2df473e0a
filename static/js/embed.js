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
  // Sign-out hand-off: a storefront that signs its shopper out posts {type: "customer-portal:logout"} to this frame.
  // Only the parent window, from one of the org's origins, is obeyed. The page's own sign-out form is submitted (a
  // same-origin POST with its CSRF token); once no one is signed in, the frame answers "customer-portal:signed-out".
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || origins.indexOf(event.origin) === -1) { return; }
    if (!event.data || event.data.type !== "customer-portal:logout") { return; }
    var form = document.querySelector("form.signout");
    if (form) { form.submit(); return; }
    window.parent.postMessage({ type: "customer-portal:signed-out" }, event.origin);
  });
  if ("ResizeObserver" in window) { new ResizeObserver(report).observe(document.documentElement); }
  document.addEventListener("htmx:afterSettle", report);
  window.addEventListener("load", report);
  report();
})();
