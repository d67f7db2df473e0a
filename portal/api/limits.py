"""Rate limits on /api, per application, with Commerce Layer's headers.

Every request whose bearer token carries a valid signature spends one unit of its application's budget
(`PORTAL_API_RATE_LIMIT`, e.g. "3000 per 5 minutes"; empty turns it off), counted by the shared limiter's storage
(the database by default, Redis for many machines: portal/security/counters.py). Responses carry
`X-Ratelimit-Limit`, `X-Ratelimit-Interval` (seconds) and `X-Ratelimit-Remaining`, and no reset or Retry-After
header unless refused; a refusal is a 429 in Commerce Layer's error shape. Tokens that fail the signature check are
not counted: the view answers 401 without touching the database.

The application comes from the token's signed claims, not its database row. The count is committed at once, in a
transaction of its own before the request's work: one application's requests (a storefront's whole traffic) would
otherwise queue behind its counter row's lock until each request commits (PostgreSQL), and every API request would
hold SQLite's write lock throughout. A request refused later still spent its unit. Many machines count in Redis
(`PORTAL_RATELIMIT_STORAGE_URL`).
"""

from __future__ import annotations

import time

from flask import Response, current_app, g
from joserfc import jwt
from joserfc.errors import JoseError
from limits import parse as parse_limit

from portal import db
from portal.api.jsonapi import ApiError
from portal.extensions import limiter
from portal.security import signing_keys
from portal.security.bearer import bearer_token
from portal.security.tokens import TokenError


def _application_key() -> str | None:
    """`api-app:<application id>` from a token whose signature verifies; None for anything else."""
    try:
        decoded = jwt.decode(bearer_token(), signing_keys.key_set(), algorithms=[signing_keys.ALGORITHM])
    except (TokenError, JoseError, ValueError, TypeError):
        return None
    application = decoded.claims.get("application")
    public_id = application.get("id") if isinstance(application, dict) else None
    return f"api-app:{public_id}" if isinstance(public_id, str) else None


def count_request() -> None:
    """before_request: spend one unit of the caller's application budget; 429 when it is gone."""
    setting = current_app.config.get("API_RATE_LIMIT")
    key = _application_key() if setting else None
    if key is None:
        return
    item = parse_limit(setting)
    allowed = limiter.limiter.hit(item, key)
    stats = limiter.limiter.get_window_stats(item, key)
    db.session.commit()  # release the counter now (see the module docstring)
    g.api_rate_limit = (item, stats)
    if not allowed:
        raise ApiError(
            429,
            "TOO_MANY_REQUESTS",
            "Too many requests",
            f"The rate limit of {item.amount} requests per {item.get_expiry()} seconds was exceeded.",
        )


def add_headers(response: Response) -> Response:
    """after_request: Commerce Layer's rate-limit headers on every counted response."""
    counted = g.pop("api_rate_limit", None)
    if counted is not None:
        item, stats = counted
        response.headers["X-Ratelimit-Limit"] = str(item.amount)
        response.headers["X-Ratelimit-Interval"] = str(item.get_expiry())
        response.headers["X-Ratelimit-Remaining"] = str(max(stats.remaining, 0))
        if response.status_code == 429:
            response.headers["Retry-After"] = str(max(int(stats.reset_time - time.time()) + 1, 1))
    if response.status_code == 204:
        del response.headers["Content-Type"]  # a 204 has no body, so no media type
    return response
