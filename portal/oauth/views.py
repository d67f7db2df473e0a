"""Routes: the token and revocation endpoints, the JWKS, and the provisioning API's current user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from portal import db
from portal.extensions import limiter
from portal.oauth import bp, clients, grants
from portal.oauth.errors import OAuth2Error, error_response, too_many_requests
from portal.security import signing_keys, tokens
from portal.security.bearer import current_token, require_token
from portal.security.routes import Policy, allow


def _client_key() -> str:
    """The client as authentication resolves it: Basic credentials percent-decoded, then the registered
    application. `my%2Did` is the same client as `my-id`, so re-encoding the id buys no fresh budget."""
    try:
        client_id = clients.read_params(request).get("client_id")
    except OAuth2Error:
        return "oauth-client:-"
    application = clients.find(client_id)
    return f"oauth-client:{application.public_id if application else (client_id or '-')[:100]}"


def _ip_key() -> str:
    return f"oauth-ip:{request.remote_addr}"


def _token_limit() -> str:
    return current_app.config["TOKEN_RATE_LIMIT"]


def _client_limit() -> str:
    # A public sales channel's client id is known to everyone: let deployments give it a larger budget.
    return current_app.config.get("TOKEN_CLIENT_RATE_LIMIT") or current_app.config["TOKEN_RATE_LIMIT"]


def _sqlite_retry(work: Callable[[], Any]) -> Any:
    """Run `work`; on SQLite, retry once if another process wrote since this transaction's first read.

    In WAL mode a transaction that read and then writes fails at once with "database is locked" when another
    writer committed in between (busy_timeout cannot help). The retry's first statement takes the write lock,
    so it waits its turn instead of failing. PostgreSQL never takes this path.
    """
    try:
        return work()
    except OperationalError as error:
        if db.session.get_bind().dialect.name != "sqlite" or "locked" not in str(error.orig):
            raise
    db.session.rollback()
    db.session.execute(text("DELETE FROM used_assertions WHERE 0"))  # a no-op write: BEGIN + write lock
    return work()


def _json(body: dict, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/oauth/token")
@allow(Policy.PUBLIC)
@limiter.limit(_token_limit, key_func=_ip_key)
@limiter.limit(_client_limit, key_func=_client_key)
def token_create() -> Response:
    try:
        params = clients.read_params(request)
        return _json(_sqlite_retry(lambda: grants.exchange(params, request.remote_addr)))
    except OAuth2Error as error:
        if getattr(error, "commit", False):
            db.session.commit()
        return error_response(error)


@bp.post("/oauth/revoke")
@allow(Policy.PUBLIC)
@limiter.limit(_token_limit, key_func=_ip_key)
def token_revoke() -> Response:
    try:
        params = clients.read_params(request)
        _sqlite_retry(lambda: tokens.revoke(clients.authenticate(params), clients.required(params, "token")))
    except OAuth2Error as error:
        return error_response(error)
    return _json({})


@bp.get("/.well-known/jwks.json")
@allow(Policy.PUBLIC)
def jwks_show() -> Response:
    response = jsonify(signing_keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/provisioning/api/user")
@require_token("user")
def provisioning_user_show() -> Response:
    user = current_token().user
    body = {
        "data": {
            "id": user.public_id,
            "type": "users",
            "attributes": {
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "time_zone": user.time_zone,
                "otp_required_for_login": user.totp_enabled_at is not None,
            },
        }
    }
    response = jsonify(body)
    response.content_type = "application/vnd.api+json"
    return response


bp.register_error_handler(429, too_many_requests)
