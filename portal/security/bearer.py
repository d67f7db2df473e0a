"""Resource protection for bearer-only endpoints (the API and provisioning)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, jsonify, request

from portal.errors import error_document, error_object
from portal.security.routes import Policy, allow
from portal.security.tokens import TokenContext, TokenError, verify


def bearer_token() -> str:
    """The token from `Authorization: Bearer ...` only: never from cookies or the query string."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise TokenError("Missing bearer token")
    return value.strip()


def require_token(*token_types: str) -> Callable:
    """Authenticate the request's bearer token; refuse token types (`integration:user`, ...) not listed.

    With no arguments any valid token passes; the view then applies its own rules to `current_token()`.
    Matching is by prefix, so `integration` admits `integration:guest` and `integration:user`.
    """
    policy = Policy(":".join(("bearer", *token_types)))  # a list of kinds without a Policy fails at import

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # The API's rate limit verified the token already this request (portal/api/limits.py).
            context = g.get("token") or verify(bearer_token())
            if token_types and not any(context.token_type.startswith(t) for t in token_types):
                raise TokenError("You are not authorized to perform this action on the requested resource.")
            g.token = context
            return view(*args, **kwargs)

        return allow(policy)(wrapper)

    return decorator


def current_token() -> TokenContext:
    return g.token


def _unauthorized(error: TokenError) -> Response:
    response = jsonify(error_document(error_object(401, "UNAUTHORIZED", "Unauthorized", str(error))))
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    response.content_type = "application/vnd.api+json"
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(TokenError, _unauthorized)
