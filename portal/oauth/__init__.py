"""The authorization server: /oauth/authorize, /oauth/token, /oauth/revoke, /oauth/logout, the JWKS, and the
provisioning user endpoint."""

from flask import Blueprint

bp = Blueprint("oauth", __name__)

from portal.oauth import consent, logout, views  # noqa: E402,F401 - registers the routes
