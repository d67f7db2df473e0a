"""The org admin area: customer search, groups, privacy queue, audit, settings."""

from flask import Blueprint, abort, request

from portal.errors import NotFound
from portal.security.cookies import same_origin_post
from portal.web import render

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _refuse_cross_site_posts() -> None:
    """Defence in depth on top of the CSRF token and the Lax cookie: staff forms are posted by our own pages only."""
    if request.method == "POST" and not same_origin_post():
        abort(403)


@bp.context_processor
def _permissions() -> dict[str, bool]:
    return {"can_edit": guard.can_edit()}


@bp.errorhandler(NotFound)
def _not_found(_error: NotFound):
    """A service's NotFound (an id of another org, or no such id) is an ordinary 404 page."""
    return render("errors/404.html", status=404)


from portal.admin import auth, customers, groups, guard, privacy, settings  # noqa: E402, F401 - register the views
