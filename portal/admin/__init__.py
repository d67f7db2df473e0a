"""The org admin area: customer search, groups, privacy queue, audit, settings."""

from flask import Blueprint

from portal.errors import NotFound
from portal.web import render

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.errorhandler(NotFound)
def _not_found(_error: NotFound):
    """A service's NotFound (an id of another org, or no such id) is an ordinary 404 page."""
    return render("errors/404.html", status=404)


from portal.admin import auth, customers, groups, privacy, settings  # noqa: E402, F401 - register the views
