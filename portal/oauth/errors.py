"""OAuth errors in Commerce Layer's shape: `{"errors":[{"code","title","detail","status"}]}`.

The error classes are authlib's (RFC 6749 §5.2 names); the status codes follow Doorkeeper, which Commerce Layer
runs: `invalid_client` and `unauthorized_client` are 401, every other error 400, `status` an integer.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from flask import Response, jsonify

from portal.errors import error_document, error_object

__all__ = [
    "InvalidAssertionError",
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "OAuth2Error",
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
    "error_response",
    "too_many_requests",
]

# Doorkeeper's descriptions, used when the error has no more specific one.
DETAILS = {
    "invalid_client": "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method.",
    "invalid_grant": "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client.",
    "invalid_request": "The request is missing a required parameter, includes an unsupported parameter value, "
    "or is otherwise malformed.",
    "invalid_scope": "The requested scope is invalid, unknown, or malformed.",
    "unauthorized_client": "The client is not authorized to perform this request using this method.",
    "unsupported_grant_type": "The authorization grant type is not supported by the authorization server.",
    "invalid_assertion": "The provided assertion is invalid.",
}
UNAUTHORIZED = frozenset({"invalid_client", "unauthorized_client"})


class InvalidAssertionError(OAuth2Error):
    """Commerce Layer's answer to every bad JWT-bearer assertion; the reason is logged, not returned."""

    error = "invalid_assertion"


class FamilyRevoked(InvalidGrantError):
    """A refresh token was reused: the grant fails, but revoking the token family must be committed."""

    commit = True


def error_response(error: OAuth2Error) -> Response:
    status = 401 if error.error in UNAUTHORIZED else 400
    detail = error.get_error_description() or DETAILS.get(error.error, error.error)
    code = "UNAUTHORIZED" if status == 401 else "BAD_REQUEST"
    response = jsonify(error_document(error_object(status, code, error.error, detail, integer_status=True)))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer error="{error.error}"'
    return response


def too_many_requests(error: Exception) -> Response:
    """Flask-Limiter's 429, in the same shape (it adds Retry-After and the X-RateLimit-* headers itself)."""
    detail = f"Rate limit exceeded ({getattr(error, 'description', 'too many requests')})"
    body = error_object(429, "TOO_MANY_REQUESTS", "too_many_requests", detail, integer_status=True)
    response = jsonify(error_document(body))
    response.status_code = 429
    return response
