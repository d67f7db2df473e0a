// Passkeys (WebAuthn) on the sign-in pages and the security pages, shopper and admin alike. No inline script: the
// server's URLs and messages come from data- attributes, the CSRF token from <body hx-headers>. Every block is
// `hidden` in the HTML and shown here only when the browser has WebAuthn, so a page without it never offers a
// button that cannot work.
(() => {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  // WebAuthn refuses an IP address as relying party (the demo's http://127.0.0.1): no button that cannot work there.
  if (/^[\d.]+$|^\[/.test(window.location.hostname)) return;

  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  };
  const toText = (buffer) => {
    let binary = "";
    new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const csrfToken = () => {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"] || ""; } catch { return ""; }
  };

  async function post(url, body) {
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body || {}),
      });
      let data = {};
      try { data = await response.json(); } catch { data = {}; }
      return { ok: response.ok, data };
    } catch {
      return { ok: false, data: {} };
    }
  }

  const descriptors = (list) => (list || []).map((c) => ({ ...c, id: toBytes(c.id) }));
  const requestOptions = (o) => ({ ...o, challenge: toBytes(o.challenge), allowCredentials: descriptors(o.allowCredentials) });
  const creationOptions = (o) => ({
    ...o,
    challenge: toBytes(o.challenge),
    user: { ...o.user, id: toBytes(o.user.id) },
    excludeCredentials: descriptors(o.excludeCredentials),
  });
  const common = (c) => ({
    id: c.id,
    rawId: toText(c.rawId),
    type: c.type,
    authenticatorAttachment: c.authenticatorAttachment || null,
    clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
  });
  const assertion = (c) => ({
    ...common(c),
    response: {
      clientDataJSON: toText(c.response.clientDataJSON),
      authenticatorData: toText(c.response.authenticatorData),
      signature: toText(c.response.signature),
      userHandle: c.response.userHandle ? toText(c.response.userHandle) : null,
    },
  });
  const attestation = (c) => ({
    ...common(c),
    response: {
      clientDataJSON: toText(c.response.clientDataJSON),
      attestationObject: toText(c.response.attestationObject),
      transports: c.response.getTransports ? c.response.getTransports() : [],
    },
  });

  // The error line is made on first use (a page without an error carries no empty error element).
  function reporter(box) {
    let line = null;
    return (message) => {
      if (!line && !message) return;
      if (!line) {
        line = document.createElement("p");
        line.className = "field-error";
        line.setAttribute("role", "alert");
        box.appendChild(line);
      }
      line.textContent = message || "";
      line.hidden = !message;
    };
  }

  // Sign-in: the button asks for any passkey (a modal prompt); the email field offers them as autofill
  // (conditional mediation) where the browser can. Starting one aborts the other: one ceremony at a time.
  function signIn(box) {
    const show = reporter(box);
    const form = box.dataset.form ? document.getElementById(box.dataset.form) : null;
    const carried = (name) => (form && form.elements[name] ? form.elements[name].value : "");
    let current = null;

    async function run(mediation) {
      if (current) current.abort();
      const controller = new AbortController();
      current = controller;
      const options = await post(box.dataset.options);
      if (!options.ok || !options.data.publicKey) {
        if (!mediation) show(options.data.error || box.dataset.failed);
        return;
      }
      let credential;
      try {
        credential = await navigator.credentials.get({
          publicKey: requestOptions(options.data.publicKey),
          mediation: mediation || "optional",
          signal: controller.signal,
        });
      } catch (error) {
        if (!mediation && error.name !== "AbortError") show(box.dataset.failed);
        return;
      }
      if (!credential) return;
      show("");
      const result = await post(box.dataset.verify, {
        credential: assertion(credential),
        next: carried("next"),
        market: carried("market"),
      });
      if (result.ok && result.data.redirect) {
        window.location.assign(result.data.redirect);
      } else {
        show(result.data.error || box.dataset.failed);  // not re-armed: the button tries again
      }
    }

    box.hidden = false;
    box.querySelector("[data-passkey-button]").addEventListener("click", () => run(null));
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((yes) => { if (yes) run("conditional"); }, () => {});
    }
  }

  // Registration on a security page: the form posts nothing itself; its name travels with the new credential.
  function register(form) {
    const show = reporter(form);
    form.hidden = false;
    document.querySelectorAll("[data-passkey-unsupported]").forEach((note) => { note.hidden = true; });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const options = await post(form.dataset.options);
        if (!options.ok || !options.data.publicKey) {
          show(options.data.error || form.dataset.failed);
          return;
        }
        let credential;
        try {
          credential = await navigator.credentials.create({ publicKey: creationOptions(options.data.publicKey) });
        } catch {
          show(form.dataset.failed);
          return;
        }
        const result = await post(form.dataset.verify, {
          credential: attestation(credential),
          name: form.elements.name ? form.elements.name.value : "",
        });
        if (result.ok && result.data.redirect) {
          window.location.assign(result.data.redirect);
        } else {
          show(result.data.error || form.dataset.failed);
        }
      } finally {
        button.disabled = false;
      }
    });
  }

  const start = () => {
    document.querySelectorAll("[data-passkey-sign-in]").forEach(signIn);
    document.querySelectorAll("[data-passkey-register]").forEach(register);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
