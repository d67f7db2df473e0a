"""`meta.record_count` for list responses, with a short-lived per-process cache.

Counting a million rows costs far more than fetching a page of 25, and clients paging through one result set ask
for the same count again and again. A count is therefore reused for API_COUNT_CACHE_SECONDS (default 10 s; 0
turns the cache off): the trade-off is that `record_count` may lag writes by that long. The key is SQLAlchemy's
statement cache key (the statement's structure, computed without compiling SQL) with its bound values, which
already hold the organization, the token's visibility rule and every filter. Lists a resource can count from
counter rows (customers: unfiltered or by status) never get here (`Resource.count`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from flask import current_app
from sqlalchemy import Select, func, select

from portal import db

_MAX_ENTRIES = 1024
_lock = threading.Lock()
_cache: OrderedDict[tuple, tuple[float, int]] = OrderedDict()


def _key(statement: Select) -> tuple:
    bind = db.session.get_bind()
    cache_key = statement._generate_cache_key()
    return (
        getattr(bind, "engine", bind).url,
        cache_key.key,
        tuple(repr(parameter.effective_value) for parameter in cache_key.bindparams),
    )


def record_count(statement: Select) -> int:
    """How many rows `statement` (unordered, unpaginated) matches, possibly from a recent cached count."""
    counting = select(func.count()).select_from(statement.order_by(None).subquery())
    ttl = float(current_app.config.get("API_COUNT_CACHE_SECONDS", 10))
    if ttl <= 0:
        return db.session.scalar(counting) or 0
    key = _key(counting)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < ttl:
            _cache.move_to_end(key)
            return hit[1]
    value = db.session.scalar(counting) or 0
    with _lock:
        _cache[key] = (now, value)
        _cache.move_to_end(key)
        while len(_cache) > _MAX_ENTRIES:
            _cache.popitem(last=False)
    return value
