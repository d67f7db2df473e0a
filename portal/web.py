"""What every page and API response shares: the transaction edge, security headers, error mapping, rendering."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, flash, g, make_response, redirect, render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy.exc import InterfaceError, OperationalError

from portal import db

# No inline styles under the CSP: no indicator <style>, and settling never copies a `style` attribute (Chromium sets
# an empty one on autofillable inputs; copying it on every swap is a style-src-attr violation).
HTMX_CONFIG = (
    '{"includeIndicatorStyles":false,"attributesToSettle":["class","width","height"],"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,'
    '"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},'
    '{"code":"422","swap":true},{"code":"[45]..","swap":false,"error":true}]}'
)


def is_htmx() -> bool:
    """A partial-update request (not a boosted navigation or a history restore, which need the full page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def current_page() -> str:
    """The path (and query) of the page the browser shows: for an htmx request that is the page it was sent from
    (`HX-Current-URL`), not the fragment's URL, so a `next` built from it leads back to a whole page."""
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Current-URL"):
        parts = urlsplit(request.headers["HX-Current-URL"])
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.full_path.rstrip("?")


def send_to_login(login_url: str, status: int = 303) -> Response:
    """Where an anonymous request for a signed-in page goes: the login page (303), or for htmx a 401 with
    `HX-Redirect`, so the whole page moves instead of the login form being swapped into the content. A browser whose
    session has just ended (its cookie names a session that no longer signs anyone in) is told so on the login page;
    a live session of another org or area is left alone."""
    if session.get("sid") and not current_user.is_authenticated:
        session.pop("sid")
        flash(_("Your session ended. Sign in again to continue."), "info")
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 401)
        response.headers["HX-Redirect"] = login_url
        return response
    return redirect(login_url, status)


def render(template: str, block: str | None = None, *, status: int = 200, **context: Any) -> Response:
    """Render a page, or only `block` of it for htmx. The server, never the client, picks the block."""
    if block is not None and is_htmx():
        html = render_block(template, block, **context)
    else:
        html = render_template(template, **context)
    response = make_response(html, status)
    response.vary.add("HX-Request")
    return response


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def set_frame_ancestors(origins: list[str]) -> None:
    """Allow these storefront origins to frame the current response (shopper pages only)."""
    g.frame_ancestors = origins


def _security_headers(response: Response) -> Response:
    ancestors = " ".join(g.get("frame_ancestors") or []) or "'none'"
    nonce = csp_nonce()
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
        "img-src 'self' data: https:; connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if not g.get("frame_ancestors"):
        response.headers["X-Frame-Options"] = "DENY"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint != "static" and (
        # Dynamic responses carry per-session data (CSRF tokens, names): not cached unless a public view says so.
        "Cache-Control" not in response.headers
        or current_user.is_authenticated
        or request.headers.get("Authorization")
    ):
        response.headers["Cache-Control"] = "no-store"
    return response


def _commit(response: Response) -> Response:
    """One transaction per request, committed at the edge when the response is a success."""
    if response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
    return response


def _database_unavailable(error: Exception) -> Response:
    db.session.rollback()
    if request.path.startswith(("/api/", "/oauth/", "/provisioning/")):
        body = {
            "errors": [
                {
                    "title": "Service unavailable",
                    "detail": "The database is unavailable, try again later",
                    "code": "SERVICE_UNAVAILABLE",
                    "status": "503",
                }
            ]
        }
        response = make_response(body, 503)
        if request.path.startswith("/api/"):
            response.content_type = "application/vnd.api+json"
    else:
        response = render("errors/503.html", status=503)
    response.headers["Retry-After"] = "5"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_commit)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(csp_nonce=csp_nonce, htmx_config=HTMX_CONFIG)
    # Lost or refused connections are the database being unavailable (503); other database errors are bugs (500).
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    for status in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(status, _error_page)


def _error_page(error: Any) -> Response:
    status = getattr(error, "code", 500) or 500
    if request.path.startswith(("/api/", "/oauth/", "/provisioning/")):
        return make_response(
            {
                "errors": [
                    {
                        "title": getattr(error, "name", "Error"),
                        "detail": getattr(error, "description", "Server error"),
                        "code": str(getattr(error, "name", "error")).upper().replace(" ", "_"),
                        "status": str(status),
                    }
                ]
            },
            status,
        )
    template = f"errors/{status}.html" if status in (404, 500) else "errors/generic.html"
    return render(template, status=status, error=error)
