"""The Commerce Layer-compatible JSON:API under /api. Bearer tokens only: CSRF-exempt, cookies ignored."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")
