"""The authorization server: /oauth/token, /oauth/revoke, the JWKS, and the provisioning user endpoint."""

from flask import Blueprint

bp = Blueprint("oauth", __name__)
