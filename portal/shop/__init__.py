"""The shopper area: sign-up, login, profile, password, addresses, orders, privacy — embeddable in a storefront.

Every request resolves the organization from the URL, lets that org's storefront origins frame the page, keeps
`?embed=1` on every link the blueprint builds, refuses cross-site POSTs (defence in depth on top of the CSRF token),
and sends anonymous visitors of customer-only pages to the login page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, g, request, url_for
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from portal.errors import NotFound
from portal.models import Customer
from portal.security import cookies
from portal.security.cookies import same_origin_post
from portal.security.routes import Policy, policy_of
from portal.services import customers
from portal.web import (
    current_page,
    error_page,
    next_path,
    not_found_page,
    send_to_login,
    set_frame_ancestors,
)

bp = Blueprint("shop", __name__, url_prefix="/<org_slug>/account")
bp.register_error_handler(NotFound, not_found_page)

# Cross-site POSTs accepted from the org's own storefront origins (the token in the body authenticates).
CROSS_SITE = frozenset({"shop.handoff"})


@bp.url_value_preprocessor
def _load_org(endpoint: str | None, values: dict[str, Any] | None) -> None:
    slug = (values or {}).pop("org_slug", None)
    org = cookies.shop_org(slug)  # loaded when the session was opened (its cookie context depends on it)
    if org is None:
        abort(404)
    g.org = org
    # Set before CSRF runs (it is an app-level before_request), so refusals still render inside the storefront.
    set_frame_ancestors(list(org.allowed_origins or []))
    g.embed = request.args.get("embed") == "1" or request.form.get("embed") == "1"


@bp.url_defaults
def _keep_org_and_embed(endpoint: str, values: dict[str, Any]) -> None:
    if "org" in g:
        values.setdefault("org_slug", g.org.slug)
        if g.get("embed") and "embed" not in values:
            values["embed"] = "1"


@bp.before_request
def _guard():
    if request.method == "POST":
        origin = request.headers.get("Origin")
        allowed_cross = request.endpoint in CROSS_SITE and origin in (g.org.allowed_origins or [])
        if not (same_origin_post() or allowed_cross):
            abort(403)
    # Only views declared public admit a visitor without a session; every other one needs the org's customer.
    if policy_of(current_app.view_functions[request.endpoint]) is Policy.PUBLIC:
        return None
    me = customer()
    if me is None:
        return send_to_login(url_for("shop.login", next=_local_path(current_page())), 302)
    if request.method == "POST":
        customers.lock(me.id)  # re-read under the row lock: a POST may change the customer
    return None


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError):
    """A form posted after its session ended fails the CSRF check first (the token lived in that session). That is
    an ended session, not a forged request: the browser goes to the login page like any other expired request."""
    public = policy_of(current_app.view_functions[request.endpoint]) is Policy.PUBLIC
    if "org" in g and not public and customer() is None:
        return send_to_login(url_for("shop.login", next=_local_path(current_page())), 302)
    return error_page(error)


def customer() -> Customer | None:
    """The signed-in customer of *this* organization (a session of another org or an admin user is ignored)."""
    user = current_user._get_current_object()
    if isinstance(user, Customer) and user.is_authenticated and user.organization_id == g.org.id:
        return user
    return None


def _local_path(target: str | None) -> str | None:
    """Only a path inside this org's account area (or the authorization request a sign-in interrupts) is a safe
    `next` (no open redirect)."""
    return next_path(target, f"/{g.org.slug}/account/")


@bp.context_processor
def _shop_context() -> dict[str, Any]:
    if "org" not in g:  # an error page before the org was resolved
        return {}
    return {
        "org": g.org,
        "embed": g.get("embed", False),
        "me": customer(),
        "lang": str(get_locale()),
    }


from portal.shop import account, addresses, auth, codes, language, orders, passkeys, privacy  # noqa: E402, F401
