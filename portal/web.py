"""What every page and API response shares: the transaction edge, security headers, error mapping, rendering."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.globals import _cv_request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy.exc import InterfaceError, OperationalError

from portal import db
from portal.errors import error_document, error_object

# No inline styles under the CSP: no indicator <style>, and settling never copies a `style` attribute (Chromium sets
# an empty one on autofillable inputs; copying it on every swap is a style-src-attr violation).
HTMX_CONFIG = (
    '{"includeIndicatorStyles":false,"attributesToSettle":["class","width","height"],"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,'
    '"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},'
    '{"code":"422","swap":true},{"code":"[45]..","swap":false,"error":true}]}'
)


JSON_MAX_DEPTH = 64  # request bodies; metadata has its own, smaller limit (services/validation.py)
JSON_TOO_DEEP = f"JSON nested more than {JSON_MAX_DEPTH} levels"


def json_depth(value: Any) -> int:
    """How deeply a JSON value nests, counted without recursion (deep input must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class BoundedJSONProvider(DefaultJSONProvider):
    """Request bodies nest at most JSON_MAX_DEPTH levels. Deeper input (50,000 `[`) would exhaust the parser's
    recursion (a RecursionError, a 500) or a later serializer's; as a ValueError it is every door's plain 400."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError(JSON_TOO_DEEP) from None
        if json_depth(value) > JSON_MAX_DEPTH:
            raise ValueError(JSON_TOO_DEEP)
        return value


def from_htmx() -> bool:
    """Any request htmx sent, boosted navigations included: it must be redirected with HX-Redirect, not a 303."""
    return request.headers.get("HX-Request") == "true"


def is_htmx() -> bool:
    """A partial-update request (not a boosted navigation or a history restore, which need the full page)."""
    return (
        from_htmx()
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
    return hx_redirect(login_url, 401) if from_htmx() else redirect(login_url, status)


def render(template: str, block: str | None = None, *, status: int = 200, **context: Any) -> Response:
    """Render a page, or only `block` of it for htmx (with the flash messages as out-of-band toasts). The server,
    never the client, picks the block."""
    if block is not None and is_htmx():
        html = render_block(template, block, **context)
        if session.get("_flashes"):  # the page's toasts region is not in the block: send them out of band
            html += render_template("layouts/_toasts_oob.html")
    else:
        html = render_template(template, **context)
    response = make_response(html, status)
    response.vary.add("HX-Request")
    return response


def hx_redirect(location: str, status: int = 204) -> Response:
    """Send the browser to `location`: 303 for a plain request; for htmx an empty `status` with HX-Redirect, so the
    whole page (and the URL) changes instead of the redirected page being swapped into a fragment."""
    if from_htmx():
        response = make_response("", status)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, 303)


def see_other(endpoint_or_url: str, *, fragment: bool = False, **values: Any) -> Response:
    """After a successful POST: go to a URL (it holds a "/") or an endpoint built with `values`.

    A whole-page move answers htmx with HX-Redirect. With `fragment=True` the page answers the block an htmx form
    targets: a 303 for everyone, which htmx follows with HX-Request kept, so the GET renders only that block.
    """
    location = endpoint_or_url if "/" in endpoint_or_url else url_for(endpoint_or_url, **values)
    return redirect(location, 303) if fragment else hx_redirect(location)


def form_status(form: Any) -> int:
    """The one rule for a form page's status: 422 when the form has errors (field or form-wide), else 200."""
    return 422 if form.errors else 200


def not_found_page(_error: Exception) -> Response:
    """A service's NotFound (an id of another org, or no such id) in an HTML door is the ordinary 404 page."""
    return render("errors/404.html", status=404)


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL on the configured public base (PORTAL_BASE_URL), never on the request's Host header.

    Emailed links carry live tokens: built from `Host`, a forged header mails the victim a link to the attacker's
    site (reset poisoning). The same helper serves requests, the worker and the CLI, so no link depends on how the
    code was reached.
    """
    base = urlsplit(current_app.config["BASE_URL"])
    current_app.inject_url_defaults(endpoint, values)
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


NEXT_MAX = 2000


def local_path(target: str | None, prefix: str) -> str | None:
    """`target` when it is a safe place to send the browser after a form (`next`), else None: a path under `prefix`
    with no scheme or host, no backslash, nothing unprintable (a CR/LF would split the Location header), no `.` or
    `..` segment that climbs out of `prefix`, and of a sane length. The one open-redirect rule of both HTML doors."""
    if not target or len(target) > NEXT_MAX or "\\" in target or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(prefix):
        return None
    if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
        return None
    return target.rstrip("?")


def next_path(target: str | None, prefix: str) -> str | None:
    """A safe `next` for a login form: under the area's `prefix`, or the OAuth authorization request the sign-in
    interrupts (a path on this site, checked by the same rule)."""
    return local_path(target, prefix) or local_path(target, url_for("oauth.authorize"))


DEFAULT_BRAND = "#1f4fd1"
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _luminance(rgb: tuple[float, ...]) -> float:
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in rgb)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def brand_css(color: str | None) -> str:
    """The design tokens an organization's brand colour sets (`--brand`, `--brand-tint`), for a nonce'd <style>.

    The colour is darkened until white text on it, and it as text on white, reach 4.5:1 (WCAG AA): a store may pick
    a pale yellow, and its buttons and links must still be readable. Anything but #rrggbb is the default."""
    color = color if color and HEX_COLOR.fullmatch(color) else DEFAULT_BRAND
    rgb: tuple[float, ...] = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    while 1.05 / (_luminance(rgb) + 0.05) < 4.6:
        rgb = tuple(c * 0.9 for c in rgb)
    brand = "#" + "".join(f"{round(c):02x}" for c in rgb)
    tint = "#" + "".join(f"{round(255 - (255 - c) * 0.1):02x}" for c in rgb)
    return f":root {{ --brand: {brand}; --brand-tint: {tint}; }}"  # hex digits only: nothing to escape


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
        for hook in current_app.extensions.get("after_rollback", []):
            hook()  # e.g. rate-limit counters: a refused attempt still counts
    return response


def _database_unavailable(error: Exception) -> Response:
    db.session.rollback()
    if _json_path():
        detail = "The database is unavailable, try again later"
        response = _json_error(503, "SERVICE_UNAVAILABLE", "Service unavailable", detail)
    else:
        response = render("errors/503.html", status=503)
    response.headers["Retry-After"] = "5"
    return response


def init_app(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)
    app.after_request(_commit)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(
        csp_nonce=csp_nonce, htmx_config=HTMX_CONFIG, external_url=external_url, brand_css=brand_css
    )
    # Lost or refused connections are the database being unavailable (503); other database errors are bugs (500).
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    for status in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(status, error_page)


def error_page(error: Any) -> Response:
    """The app-wide error response: JSON for the bearer doors, a page for the HTML doors."""
    status = getattr(error, "code", 500) or 500
    if _json_path():
        name = getattr(error, "name", "Error")
        code = str(getattr(error, "name", "error")).upper().replace(" ", "_")
        return _json_error(status, code, name, getattr(error, "description", "Server error"))
    if (
        _cv_request.get().url_adapter is None
    ):  # an untrusted Host (production): no URL can be built for a page
        return make_response(
            f"{status} {getattr(error, 'name', 'Error')}\n", status, {"Content-Type": "text/plain"}
        )
    template = f"errors/{status}.html" if status in (404, 500) else "errors/generic.html"
    return render(template, status=status, error=error)


HTML_OAUTH_PATHS = frozenset({"/oauth/authorize", "/oauth/logout"})  # the hosted sign-in's pages, not JSON


def _json_path() -> bool:
    return (
        request.path.startswith(("/api/", "/oauth/", "/provisioning/"))
        and request.path not in HTML_OAUTH_PATHS
    )


def _json_error(status: int, code: str, title: str, detail: str) -> Response:
    """The app-wide error pages for JSON doors; under /api/ in the JSON:API media type, like the API's own errors."""
    response = make_response(error_document(error_object(status, code, title, detail)), status)
    if request.path.startswith("/api/"):
        response.content_type = "application/vnd.api+json"
    return response
