"""The org admin area: customer search, groups, privacy queue, audit, settings."""

from flask import Blueprint, abort, request

from portal.errors import NotFound
from portal.security.cookies import same_origin_post
from portal.web import not_found_page

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.register_error_handler(NotFound, not_found_page)


@bp.before_request
def _refuse_cross_site_posts() -> None:
    """Defence in depth on top of the CSRF token and the Lax cookie: staff forms are posted by our own pages only."""
    if request.method == "POST" and not same_origin_post():
        abort(403)


@bp.context_processor
def _permissions() -> dict[str, bool]:
    return {"can_edit": guard.can_edit()}


from portal.admin import auth, customers, groups, guard, privacy, settings  # noqa: E402, F401 - register the views
