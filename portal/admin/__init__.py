"""The org admin area: customer search, groups, privacy queue, audit, settings."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
