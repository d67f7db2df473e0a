"""One session cookie per browsing context, never two with the same name.

The portal has three contexts, each with its own cookie name, so no response ever re-issues another context's cookie
with different attributes (a partitioned and an unpartitioned cookie of one name are two cookies to the browser, which
sends both, and the server would read whichever came first):

- *staff* (admin area, the front page, error pages): the app's `SESSION_COOKIE_NAME`, always `SameSite=Lax` (or
  `Strict` if configured), never partitioned, whatever the org's storefront origins. Cross-site POSTs to it are also
  refused by `same_origin_post` (admin guard).
- *shop* (`/<org>/account/…` of an org without storefront origins): `shop-session`, `SameSite=Lax`. A sales
  channel's `/oauth/authorize` and `/oauth/logout` are its org's shopper context (the sign-in set that cookie).
- *embed* (`/<org>/account/…` of an org that lists storefront origins): `shop-embed-session`,
  `SameSite=None; Secure; Partitioned` (CHIPS). A storefront on another site frames the shopper pages, and a `Lax`
  cookie is not sent inside a cross-site iframe. The browser keeps a separate jar per top-level storefront, so the
  cookie is no tracking vector. `Secure` needs HTTPS, or a loopback host, which browsers treat as a secure context
  (local demos and tests); elsewhere the org's pages fall back to the *shop* cookie.

Static files set no cookie at all. Under HTTPS (`SESSION_COOKIE_SECURE`) each name carries the `__Host-` prefix.
Flask opens the session before it matches the URL, so the context is found here by matching it once.
"""

from __future__ import annotations

from flask import Flask, Request, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from portal import db
from portal.models.orgs import Organization
from portal.models.staff import Application, ApplicationKind

LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]"})
STAFF, SHOP, EMBED, STATIC = "staff", "shop", "embed", "static"
SHOP_NAMES = {SHOP: "shop-session", EMBED: "shop-embed-session"}
_ENVIRON_KEY = "portal.cookie_context"
_ORG_KEY = "portal.shop_org"
OAUTH_PAGES = frozenset({"oauth.authorize", "oauth.logout"})  # the hosted sign-in's pages, by client_id


def cookie_name(app: Flask, context: str) -> str:
    """The session cookie's name in `context` (tests and the storefront logout hand-off use it too)."""
    if context not in SHOP_NAMES:
        return app.config["SESSION_COOKIE_NAME"]
    name = SHOP_NAMES[context]
    return f"__Host-{name}" if app.config["SESSION_COOKIE_SECURE"] else name


def _secure_context(req: Request) -> bool:
    host = req.host.rsplit(":", 1)[0] if not req.host.endswith("]") else req.host
    return req.is_secure or host in LOOPBACK


def shop_org(slug: str | None) -> Organization | None:
    """The organization of a shopper page's slug, loaded once per request: the cookie context needs it before the
    view does, and the shop blueprint takes it from here."""
    loaded = request.environ.setdefault(_ORG_KEY, {})
    if slug not in loaded:
        loaded[slug] = db.session.scalar(select(Organization).where(Organization.slug == slug))
    return loaded[slug]


def _origins(endpoint: str, args: dict, req: Request) -> list[str] | None:
    """The storefront origins of the org whose shopper context this is; None: not a shopper context."""
    if endpoint.startswith("shop."):
        org = shop_org(args.get("org_slug"))
        return None if org is None else list(org.allowed_origins or [])
    # OAUTH_PAGES: a sales channel's sign-in (and sign-out) is its org's shopper session; a webapp's, staff
    origins = db.session.execute(
        select(Organization.allowed_origins)
        .join(Application, Application.organization_id == Organization.id)
        .where(
            Application.client_id == req.args.get("client_id", ""),
            Application.kind == ApplicationKind.SALES_CHANNEL,
        )
    ).first()
    return None if origins is None else list(origins[0] or [])


def _find_context(app: Flask, req: Request) -> str:
    try:
        endpoint, args = app.create_url_adapter(req).match()
    except HTTPException:
        return STAFF
    if endpoint == "static":
        return STATIC
    if endpoint not in OAUTH_PAGES and not endpoint.startswith("shop."):
        return STAFF
    try:
        db.autocommit_reads(endpoint)  # before the request's first statement, below
        origins = _origins(endpoint, args, req)
    except (
        OperationalError,
        InterfaceError,
    ):  # the view answers 503 (portal/web.py); no embed cookie meanwhile
        db.session.rollback()
        return SHOP
    if origins is None:
        return STAFF if endpoint in OAUTH_PAGES else SHOP
    return EMBED if origins and _secure_context(req) else SHOP


def context() -> str:
    """This request's cookie context (decided once, when the session is opened)."""
    return request.environ.get(_ENVIRON_KEY, STAFF)


# Bearer-only doors: no cookie is read or set there (the session would be unused work on every API call).
BEARER_PREFIXES = ("/api/",)


class ContextSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request):
        if request.path.startswith(BEARER_PREFIXES):
            request.environ[_ENVIRON_KEY] = STATIC  # like static files: no Set-Cookie
            return self.make_null_session(app)
        request.environ[_ENVIRON_KEY] = _find_context(app, request)
        return super().open_session(app, request)

    def get_cookie_name(self, app: Flask) -> str:
        return cookie_name(app, context())

    def get_cookie_samesite(self, app: Flask) -> str | None:
        if context() == EMBED:
            return "None"
        return "Strict" if app.config["SESSION_COOKIE_SAMESITE"] == "Strict" else "Lax"

    def get_cookie_secure(self, app: Flask) -> bool:
        return context() == EMBED or super().get_cookie_secure(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return context() == EMBED

    def should_set_cookie(self, app: Flask, session) -> bool:
        return context() != STATIC and super().should_set_cookie(app, session)


def same_origin_post() -> bool:
    """A POST sent by this site's own pages: `Sec-Fetch-Site` same-origin (or none) and no foreign `Origin`."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    return request.headers.get("Origin") in (None, f"{request.scheme}://{request.host}")


def install(app: Flask) -> None:
    app.session_interface = ContextSessionInterface()
