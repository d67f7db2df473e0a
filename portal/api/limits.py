"""Rate limits on /api, per application, with Commerce Layer's headers.

Every request with a valid bearer token (signature, expiry and its row: verified once, here) spends one unit of its
application's budget (`PORTAL_API_RATE_LIMIT`, e.g. "3000 per 5 minutes"; empty turns it off), counted by the
shared limiter's storage (the database by default, Redis for many machines: portal/security/counters.py). Responses
carry `X-Ratelimit-Limit`, `X-Ratelimit-Interval` (seconds) and `X-Ratelimit-Remaining`, and no reset or Retry-After
header unless refused; a refusal is a 429 in Commerce Layer's error shape. Invalid or revoked tokens are not
counted: the view answers 401.

The count is committed at once, in a
transaction of its own before the request's work: one application's requests (a storefront's whole traffic) would
otherwise queue behind its counter row's lock until each request commits (PostgreSQL), and every API request would
hold SQLite's write lock throughout. A request refused later still spent its unit. Many machines count in Redis
(`PORTAL_RATELIMIT_STORAGE_URL`).
"""

from __future__ import annotations

import time

from flask import Response, current_app, g
from limits import parse as parse_limit
from limits.strategies import FixedWindowRateLimiter
from limits.util import WindowStats
from sqlalchemy import text

from portal import db
from portal.api.jsonapi import ApiError
from portal.extensions import limiter
from portal.security.bearer import bearer_token
from portal.security.tokens import TokenError, verify


def _application_key() -> str | None:
    """`api-app:<application id>` of a valid token (verified once: the view's require_token reuses `g.token`); None
    for a missing or invalid one, which the view refuses without it costing the application anything."""
    try:
        g.token = verify(bearer_token())
    except TokenError:
        return None
    return f"api-app:{g.token.application.public_id}"


def count_request() -> None:
    """before_request: spend one unit of the caller's application budget; 429 when it is gone."""
    setting = current_app.config.get("API_RATE_LIMIT")
    key = _application_key() if setting else None
    if key is None:
        return
    item = parse_limit(setting)
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        # The token was read in a deferred transaction; upgrading it to the counter's write fails at once ("database
        # is locked", a 503) when another process committed since. Ended here, the write waits its turn instead.
        db.session.commit()
    elif dialect == "postgresql":
        # This transaction writes only the counter: its commit need not wait for the WAL flush (an fsync per API
        # request). A crash can lose the last fraction of a second of counts, never anything else.
        db.session.execute(text("SET LOCAL synchronous_commit = off"))
    strategy = limiter.limiter
    if isinstance(strategy, FixedWindowRateLimiter):
        # The increment returns the window's count: the remaining budget needs no second and third query (every
        # API request pays this); the reset time is read only for a refusal, whose Retry-After needs it.
        count = strategy.storage.incr(item.key_for(key), item.get_expiry())
        allowed = count <= item.amount
        reset = strategy.storage.get_expiry(item.key_for(key)) if not allowed else 0.0
        stats = WindowStats(reset, max(0, item.amount - count))
    else:
        allowed = strategy.hit(item, key)
        stats = strategy.get_window_stats(item, key)
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
