"""The admin area's one guard: who may call a view, in which organization, with which role.

Every org-scoped view is wrapped in `requires(role)`; the role is enforced here, in the view layer, never only
hidden in a template. An org the user is not a member of answers 404, like any other org's ids.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, g, request, url_for
from flask_login import current_user

from portal import db
from portal.models import Organization, User
from portal.models.staff import Role
from portal.security import sessions
from portal.security.routes import Policy, allow
from portal.services import orgs
from portal.web import current_page, hx_redirect, send_to_login

REAUTH_WINDOW = timedelta(minutes=10)
READ_ONLY_REFUSAL = (
    "Your role in this organization is read-only: you can look at everything, but changes are for its admins. "
    "Nothing was changed."
)


def staff_user() -> User | None:
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return user if isinstance(user, User) else None


def login_redirect():
    """Anonymous: to the login page, coming back to this page after it (htmx: the page the fragment belongs to)."""
    return send_to_login(url_for("admin.login", next=current_page()))


def load_org(slug: str, user: User) -> tuple[Organization, Role]:
    org = orgs.get_org(slug)
    role = user.role_in(org)
    if role is None:
        abort(404)
    return org, role


def requires_staff(view: Callable) -> Callable:
    """Decorate a view for any signed-in staff user (no org in the URL): sets g.user."""

    @wraps(view)
    def wrapped(**kwargs: Any):
        if not current_user.is_authenticated:
            return login_redirect()
        g.user = staff_user()
        if g.user is None:  # a shopper's session is not a staff session
            abort(403)
        return view(**kwargs)

    return allow(Policy.STAFF)(wrapped)


def requires(role: Role) -> Callable:
    """Decorate a view under /admin/<org_slug>/: sets g.user, g.org, g.role; admin views refuse read_only (403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(org_slug: str, **kwargs: Any):
            org, user_role = load_org(org_slug, g.user)
            g.org, g.role = org, user_role
            if org.require_admin_2fa and user_role is Role.ADMIN and not sessions.two_factor(g.user):
                return hx_redirect(url_for("admin.totp_setup", next=request.path))
            if role is Role.ADMIN and not can_edit():
                abort(403, description=READ_ONLY_REFUSAL)
            return view(**kwargs)

        return allow(Policy.STAFF_ADMIN if role is Role.ADMIN else Policy.STAFF_MEMBER)(
            requires_staff(wrapped)
        )

    return decorator


def can_edit() -> bool:
    """Whether this request's role passes `requires(Role.ADMIN)`: the guard refuses with it, and pages get it as
    `can_edit` so a read-only member is never shown a write action the guard would refuse."""
    return g.get("role") is Role.ADMIN


def recently_authenticated() -> bool:
    row = sessions.current()
    return row is not None and db.utcnow() - row.authenticated_at <= REAUTH_WINDOW


def requires_recent_login(view: Callable) -> Callable:
    """Irreversible actions (anonymization) need the password typed in the last 10 minutes. Use under `requires`."""

    @wraps(view)
    def wrapped(**kwargs: Any):
        if not recently_authenticated():
            back = urlsplit(request.referrer).path if request.referrer else request.path
            target = url_for(
                "admin.reauth",
                org_slug=g.org.slug,
                next=back if request.method == "POST" else request.full_path,
            )
            return hx_redirect(target)
        return view(**kwargs)

    return wrapped
