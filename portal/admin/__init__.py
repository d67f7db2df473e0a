"""The org admin area: customer search, groups, privacy queue, audit, settings."""

from flask import Blueprint, abort, current_app, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from portal.errors import NotFound
from portal.security.cookies import same_origin_post
from portal.security.routes import Policy, policy_of
from portal.web import error_page, not_found_page

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.register_error_handler(NotFound, not_found_page)


@bp.before_request
def _refuse_cross_site_posts() -> None:
    """Defence in depth on top of the CSRF token and the Lax cookie: staff forms are posted by our own pages only."""
    if request.method == "POST" and not same_origin_post():
        abort(403)


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError):
    """A form posted after its session ended fails the CSRF check first (the token lived in that session). That is
    an ended session, not a forged request: the browser goes to the login page like any other expired request."""
    public = policy_of(current_app.view_functions[request.endpoint]) is Policy.PUBLIC
    if not public and not current_user.is_authenticated:
        return guard.login_redirect()
    return error_page(error)


@bp.context_processor
def _permissions() -> dict[str, bool]:
    return {"can_edit": guard.can_edit()}


from portal.admin import (  # noqa: E402, F401 - register the views
    auth,
    customers,
    groups,
    guard,
    passkeys,
    privacy,
    settings,
    tags,
    webhooks,
)
