"""The authorization server: /oauth/token, /oauth/revoke, the JWKS, and the provisioning user endpoint."""

from flask import Blueprint

# cli_group=None: the blueprint's commands (rotate-signing-key) sit at the top level of `flask`.
bp = Blueprint("oauth", __name__, cli_group=None)

from portal.oauth import cli, views  # noqa: E402,F401 - registers the routes and the command
