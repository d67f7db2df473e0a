"""Session cookies that survive a cross-site iframe.

A storefront on another site frames the shopper pages; browsers send a `SameSite=Lax` cookie only to first-party
requests, so inside the frame there would be no session (and no CSRF token). For the shopper pages of an org that
lists storefront origins, the session cookie becomes `SameSite=None; Secure; Partitioned` (CHIPS): the browser
keeps a separate jar per top-level storefront, so the cookie is no tracking vector. `Secure` needs HTTPS, or a
loopback host, which browsers treat as a secure context (local demos and tests). Everything else keeps the app's
configured attributes. CSRF stays as it is: flask-wtf tokens plus the Origin / Sec-Fetch-Site check in the guard.

Flask picks cookie attributes per app, not per request, so this wraps the app's session interface (installed
once, when the blueprint is registered).
"""

from __future__ import annotations

from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface, SessionInterface

LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]"})


def cross_site_cookie() -> bool:
    org = g.get("org")
    if org is None or not org.allowed_origins:
        return False
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return request.is_secure or host in LOOPBACK


class EmbeddableSessionInterface(SecureCookieSessionInterface):
    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "None" if cross_site_cookie() else super().get_cookie_samesite(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        return True if cross_site_cookie() else super().get_cookie_secure(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return True if cross_site_cookie() else super().get_cookie_partitioned(app)


def install(state) -> None:
    current: SessionInterface = state.app.session_interface
    if type(current) is SecureCookieSessionInterface:
        state.app.session_interface = EmbeddableSessionInterface()
