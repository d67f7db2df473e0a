"""A sample storefront on another origin, for the demo and the browser tests: it embeds the shopper area in an
iframe and hands its customer's access token over to the portal (a form POST into the frame, never a URL).

    flask --app examples.storefront run --port 5001     (PORTAL_URL, STOREFRONT_ORG, STOREFRONT_CLIENT_ID)

The storefront never sees a password: "Sign in" sends the shopper to the portal's hosted sign-in
(`/oauth/authorize`, the authorization code flow with PKCE, through authlib's OAuth2 client), which brings them
back to `/callback` with a code; the storefront checks `state` (the client's job), exchanges the code for a
customer token, keeps it in its own session, and posts it to `/<org>/account/handoff`. "Sign out" revokes the
token, ends the hosted sign-in's session through `/oauth/logout`, and the account frame's with a logout message.
Its sales channel must list `<storefront>/callback` and `<storefront>/signed-out` among its redirect URIs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from urllib.parse import urlencode, urlsplit

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Flask, redirect, render_template_string, request, session, url_for

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Demo storefront</title><link rel="icon" href="data:,">
<style>
 body { font-family: system-ui, sans-serif; margin: 0; color: #1b1f24; background: #f3f0ea; }
 header { background: #23303f; color: #fff; padding: 1rem 2rem; display: flex; justify-content: space-between;
   flex-wrap: wrap; gap: .5rem 1.5rem; }
 header a { color: #fff; }
 main { max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
 iframe { width: 100%; border: 1px solid #c9c2b5; border-radius: 8px; background: #fff; min-height: 32rem; }
 a.button { display: inline-block; font: inherit; padding: .5rem 1rem; background: #23303f; color: #fff;
   border-radius: 6px; text-decoration: none; }
 .error { color: #a31d1d; }
</style></head>
<body>
<header><strong>Demo storefront</strong>
  <nav>{% if signed_in %}<a href="{{ url_for('account') }}">My account</a> ·
  <a href="{{ url_for('signout') }}">Sign out</a>{% else %}<a href="{{ url_for('home') }}">Home</a>{% endif %}</nav>
</header>
<main>
<h1>{{ title }}</h1>
{{ body|safe }}
</main>
<script>
  // Size the portal's iframe from its height messages; trust only the portal's origin.
  window.addEventListener("message", function (event) {
    if (event.origin !== {{ portal_origin|tojson }}) return;
    if (!event.data || event.data.type !== "customer-portal:height") return;
    var frame = document.getElementById("portal");
    if (frame) frame.style.height = Math.max(320, Number(event.data.height) || 0) + "px";
  });
  var handoff = document.getElementById("handoff");
  if (handoff) handoff.submit();
  // Sign-out hand-off (README, embedding): ask the portal frame to end its session, and say so once it has.
  var signout = document.querySelector("iframe[data-signout]");
  if (signout) {
    signout.addEventListener("load", function () {
      signout.contentWindow.postMessage({ type: "customer-portal:logout" }, {{ portal_origin|tojson }});
    });
    window.addEventListener("message", function (event) {
      if (event.origin !== {{ portal_origin|tojson }} || !event.data) return;
      if (event.data.type === "customer-portal:signed-out") {
        document.getElementById("signout-status").textContent = "You are signed out of the store and of your account.";
      }
    });
  }
</script>
</body></html>"""


def create_app(portal_url: str, org_slug: str, client_id: str, *, market: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), SESSION_COOKIE_NAME="storefront")
    portal_url = portal_url.rstrip("/")
    parts = urlsplit(portal_url)
    portal_origin = f"{parts.scheme}://{parts.netloc}"
    account_base = f"{portal_url}/{org_slug}/account"

    def page(title: str, body: str) -> str:
        return render_template_string(
            PAGE, title=title, body=body, portal_origin=portal_origin, signed_in="token" in session
        )

    def oauth(**kwargs) -> OAuth2Session:
        return OAuth2Session(
            client_id,
            redirect_uri=url_for("callback", _external=True),
            scope=f"market:code:{market}" if market else None,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",  # noqa: S106 - a public client: PKCE, no secret
            **kwargs,
        )

    @app.get("/")
    def home():
        error = request.args.get("error")
        market_arg = f"&market={market}" if market else ""
        return page(
            "Welcome",
            render_template_string(
                """<p>Sign in once, on the account page of the store, and your account opens below:</p>
{% if error %}<p class="error">Signing in didn't work. Try again.</p>{% endif %}
<p><a class="button" href="{{ url_for('signin') }}">Sign in to the store</a></p>
<h2>Or use the account area directly</h2>
<iframe id="portal" title="Your account" src="{{ src }}"></iframe>""",
                error=error,
                src=f"{account_base}/login?embed=1{market_arg}",
            ),
        )

    @app.get("/signin")
    def signin():
        """To the portal's hosted sign-in, with a fresh PKCE verifier and state kept in this store's session."""
        verifier = secrets.token_urlsafe(64)
        url, state = oauth().create_authorization_url(f"{portal_url}/oauth/authorize", code_verifier=verifier)
        session["oauth"] = {"state": state, "verifier": verifier}
        return redirect(url, 303)

    @app.get("/callback")
    def callback():
        """Back from the portal: the state must be ours (login CSRF), then the code buys the customer's token."""
        pending = session.pop("oauth", None)
        if pending is None or request.args.get("state") != pending["state"] or "code" not in request.args:
            return redirect(url_for("home", error=1), 303)
        try:
            token = oauth(state=pending["state"]).fetch_token(
                f"{portal_url}/oauth/token",
                authorization_response=request.url,
                code_verifier=pending["verifier"],
                timeout=10,
            )
        except (OAuth2Error, OSError):
            return redirect(url_for("home", error=1), 303)
        session["token"] = token["access_token"]
        return redirect(url_for("account"), 303)

    @app.get("/account")
    def account():
        if "token" not in session:
            return redirect(url_for("home"))
        return page(
            "My account",
            render_template_string(
                """<form id="handoff" method="post" action="{{ action }}" target="portal">
  <input type="hidden" name="access_token" value="{{ token }}">
  <noscript><button type="submit">Open my account</button></noscript>
</form>
<iframe id="portal" name="portal" title="Your account" src="about:blank"></iframe>""",
                action=f"{account_base}/handoff?embed=1",
                token=session["token"],
            ),
        )

    @app.get("/signout")
    def signout():
        """End the store's session, then the hosted sign-in's on the portal (top level: /oauth/logout asks the
        shopper to confirm and sends them back to /signed-out with our state)."""
        token = session.get("token")
        session.clear()
        if token is not None:
            with contextlib.suppress(
                OAuth2Error, OSError
            ):  # the portal unreachable: the token expires by itself
                oauth().revoke_token(f"{portal_url}/oauth/revoke", token=token, timeout=10)
        state = secrets.token_urlsafe(16)
        session["signout_state"] = state
        back = url_for("signed_out", _external=True)
        query = urlencode({"client_id": client_id, "post_logout_redirect_uri": back, "state": state})
        return redirect(f"{portal_url}/oauth/logout?{query}", 303)

    @app.get("/signed-out")
    def signed_out():
        """Back from the portal: with our state, end the account frame's session too (the logout message below);
        without it (a link from elsewhere), nothing happens."""
        if request.args.get("state") != session.pop("signout_state", None):
            return redirect(url_for("home"), 303)
        return page(
            "Sign out",
            render_template_string(
                """<p id="signout-status" role="status">Signing you out of your account…</p>
<p><a href="{{ url_for('home') }}">Back to the store</a></p>
<iframe id="portal" title="Your account" src="{{ src }}" data-signout></iframe>""",
                src=f"{account_base}/?embed=1",
            ),
        )

    return app


def _demo_client_id() -> str:
    """The demo's sales channel (`make run` loads it); a real storefront is simply configured with its id."""
    from sqlalchemy import select

    from portal import create_app as create_portal
    from portal import db
    from portal.models import Application

    with create_portal().app_context():
        client_id = db.session.scalar(
            select(Application.client_id).where(Application.name == "Demo storefront")
        )
    if client_id is None:
        raise RuntimeError("No demo storefront application: run `flask --app portal demo` first")
    return client_id


def _from_environment() -> Flask:
    return create_app(
        os.environ.get("PORTAL_URL", "http://127.0.0.1:5000"),
        os.environ.get("STOREFRONT_ORG", "demo"),
        os.environ.get("STOREFRONT_CLIENT_ID") or _demo_client_id(),
        market=os.environ.get("STOREFRONT_MARKET", "europe"),
    )


def __getattr__(name: str):
    """`flask --app examples.storefront` finds `app` here; built on first use, not at import."""
    if name == "app":
        return _from_environment()
    raise AttributeError(name)
