"""The org admin area: customer search, groups, privacy queue, audit, settings."""

from flask import Blueprint

from portal.errors import NotFound
from portal.web import not_found_page

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.register_error_handler(NotFound, not_found_page)


from portal.admin import auth, customers, groups, privacy, settings  # noqa: E402, F401 - register the views
