"""Rate limits on /api, per application, with Commerce Layer's headers.

Every request with a valid bearer token (signature, expiry and its row: verified once, here) spends one unit of its
application's budget (`PORTAL_API_RATE_LIMIT`, e.g. "3000 per 5 minutes"; empty turns it off), counted by the
shared limiter's storage (the database by default, Redis for many machines: portal/security/counters.py). Responses
carry `X-Ratelimit-Limit`, `X-Ratelimit-Interval` (seconds) and `X-Ratelimit-Remaining`, and no reset or Retry-After
header unless refused; a refusal is a 429 in Commerce Layer's error shape. Invalid or revoked tokens are not
counted: the view answers 401.

The shared count is written in a transaction of its own, committed before the request's work: one application's
requests (a storefront's whole traffic) would otherwise queue behind its counter row's lock until each request
commits (PostgreSQL), and every API request would hold SQLite's write lock throughout. Writing it on every request
cost a third of an API request's throughput (a write, a commit, and on SQLite the single write lock), so each
process writes its admitted requests in batches (WRITE_EVERY, WRITE_SECONDS) and on every request near the end of
the budget, where the count is exact; far from it, the other processes may not yet see up to WRITE_EVERY requests
(or a second's worth) of each process. A request refused later still spent its unit. Many machines count in Redis
(`PORTAL_RATELIMIT_STORAGE_URL`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request
from limits import parse as parse_limit
from limits.strategies import FixedWindowRateLimiter
from limits.util import WindowStats
from sqlalchemy import text

from portal import db
from portal.api.jsonapi import ApiError
from portal.extensions import limiter
from portal.security.bearer import bearer_token
from portal.security.tokens import TokenError, verify

# A process writes the shared counter once per WRITE_EVERY admitted requests of an application, or after
# WRITE_SECONDS, and on every request once fewer than NEAR_END remain: far from the limit, each process may have up to
# WRITE_EVERY requests (or a second's worth) not yet counted by the others; near it, the count is exact.
WRITE_EVERY = 16
WRITE_SECONDS = 1.0
NEAR_END = WRITE_EVERY * 8


def _application_key() -> str | None:
    """`api-app:<application id>` of a valid token (verified once: the view's require_token reuses `g.token`); None
    for a missing or invalid one, which the view refuses without it costing the application anything."""
    try:
        g.token = verify(bearer_token())
    except TokenError:
        return None
    return f"api-app:{g.token.application_id}"


@dataclass
class _Tally:
    """This process's view of one application's window: the shared count at the last write, the requests it has
    admitted since without writing them, and those of batches being written (not yet seen by the others either)."""

    shared: int = 0
    pending: int = 0
    writing: int = 0
    written_at: float = 0.0
    ends_at: float = 0.0


_tallies: dict[str, _Tally] = {}
_tallies_lock = threading.Lock()


def _write(key: str, amount: int, expiry: int) -> tuple[int, float]:
    """Add `amount` to the shared counter in a transaction of its own; its new count and the window's end."""
    storage = limiter.limiter.storage
    # The token was read in the request's transaction (or, a GET on PostgreSQL, in autocommit): ended here, the
    # counter gets a transaction of its own. On SQLite, upgrading a deferred read transaction to this write fails at
    # once ("database is locked", a 503) when another process committed since; a new one waits its turn instead.
    db.session.commit()
    if db.session.get_bind().dialect.name == "postgresql":
        # This transaction writes only the counter: its commit need not wait for the WAL flush. A crash can lose a
        # moment of counts, never anything else.
        db.session.execute(text("SET LOCAL synchronous_commit = off"))
    count = storage.incr(key, expiry, amount=amount)
    ends_at = storage.get_expiry(key)
    db.session.commit()  # release the counter row now (see the module docstring)
    return count, ends_at


def _spend(item: Any, key: str) -> WindowStats:
    """Admit one request against the shared fixed window, writing the counter only every WRITE_EVERY requests or
    WRITE_SECONDS, and on every request once the budget is within NEAR_END of its end (then the count is exact)."""
    now = time.time()
    with _tallies_lock:
        tally = _tallies.get(key)
        if tally is None or now >= tally.ends_at:
            if len(_tallies) > 10_000:  # forget ended windows now and then
                for stale in [k for k, t in _tallies.items() if now >= t.ends_at]:
                    del _tallies[stale]
            tally = _tallies[key] = _Tally()
        tally.pending += 1
        unseen = tally.pending + tally.writing  # a batch being written counts until its write returns
        remaining = item.amount - tally.shared - unseen
        due = unseen >= WRITE_EVERY or now - tally.written_at >= WRITE_SECONDS or remaining < NEAR_END
        amount, tally.pending = (tally.pending, 0) if due else (0, tally.pending)
        tally.writing += amount
    if not amount:
        return WindowStats(tally.ends_at, remaining)
    try:
        count, ends_at = _write(key, amount, item.get_expiry())
    except Exception:
        with _tallies_lock:  # the requests already admitted still count: the next write carries them
            tally.writing -= amount
            tally.pending += amount
        raise
    with _tallies_lock:
        tally.writing -= amount
        tally.shared, tally.ends_at, tally.written_at = count, ends_at, now
        # Not minus `writing`: the count may hold those batches already, and near the end a batch being written is
        # one request waiting for its answer, not an admitted one.
        return WindowStats(ends_at, item.amount - count - tally.pending)


@limiter.request_filter
def _counted_here() -> bool:
    """flask-limiter's per-route limits skip /api: no API route has one, and its budget is counted below."""
    return request.blueprint == "api"


def count_request() -> None:
    """before_request: spend one unit of the caller's application budget; 429 when it is gone."""
    setting = current_app.config.get("API_RATE_LIMIT")
    key = _application_key() if setting else None
    if key is None:
        return
    item = parse_limit(setting)
    strategy = limiter.limiter
    if isinstance(strategy, FixedWindowRateLimiter):
        stats = _spend(item, item.key_for(key))
        allowed = stats.remaining >= 0
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
