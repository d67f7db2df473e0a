"""The embedded rate-limit storage: counters in the portal's own database, so every process of one installation
(gunicorn workers, several instances on one database) shares the lockout and the rate limits with no extra service.
`PORTAL_RATELIMIT_STORAGE_URL=database://` is the default; Redis (`redis://…`) stays the option for many machines.

No maintained SQL storage exists for `limits` (it ships memory, Redis, Memcached and MongoDB), so this is one:
fixed windows, Flask-Limiter's default strategy, one row per counter.

Counters are written in the request's own transaction: SQLite has one writer, and a POST already holds the write
lock, so a second connection would wait for itself. A refused request rolls its transaction back (a failed login
is a 4xx), so each request's session remembers its uncommitted increments and `keep_after_rollback` writes them
again after the rollback (web._commit runs the `after_rollback` hooks). Keys are stored as HMAC-SHA256 digests
under the secret key: the emails and IP addresses counted never reach the table. The worker deletes expired rows.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import time
from datetime import timedelta
from typing import Any

from flask import current_app
from limits.storage import Storage
from sqlalchemy import Integer, bindparam, case, delete, event, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from portal import db
from portal.db import AppSession, UTCDateTime
from portal.models import ThrottleCounter

TABLE = ThrottleCounter.__table__
PENDING = "counter_increments"  # in Session.info: increments not committed yet
log = logging.getLogger(__name__)


def digest(key: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


@functools.cache
def _increment_statement(dialect: str) -> Any:
    """Add `amount` to the counter, starting a new window when the old one has ended; atomic on both databases.
    Built once per dialect with bound parameters: every API request runs it, and building it was a third of the
    request's CPU."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now, expires = bindparam("now", type_=UTCDateTime()), bindparam("expires", type_=UTCDateTime())
    amount = bindparam("amount", type_=Integer())
    ended = TABLE.c.expires_at <= now
    return (
        insert(TABLE)
        .values(key_hash=bindparam("key_hash"), count=amount, expires_at=expires)
        .on_conflict_do_update(
            index_elements=[TABLE.c.key_hash],
            set_={
                "count": case((ended, amount), else_=TABLE.c.count + amount),
                "expires_at": case((ended, expires), else_=TABLE.c.expires_at),
            },
        )
        .returning(TABLE.c.count)
    )


def _increment(key_hash: str, expiry: int, amount: int) -> int:
    now = db.utcnow()
    statement = _increment_statement(db.session.get_bind().dialect.name)
    parameters = {
        "key_hash": key_hash,
        "now": now,
        "expires": now + timedelta(seconds=expiry),
        "amount": amount,
    }
    return db.session.execute(statement, parameters).scalar_one()


def _live(key: str) -> Any:
    return db.session.execute(
        select(TABLE.c.count, TABLE.c.expires_at).where(
            TABLE.c.key_hash == digest(key), TABLE.c.expires_at > literal(db.utcnow(), UTCDateTime())
        )
    ).first()


class DatabaseStorage(Storage):
    """`limits` storage on the `throttle` table (see the module docstring)."""

    STORAGE_SCHEME = ["database"]

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        key_hash = digest(key)
        count = _increment(key_hash, expiry, amount)
        db.session().info.setdefault(PENDING, []).append((key_hash, expiry, amount))
        return count

    def get(self, key: str) -> int:
        row = _live(key)
        return row.count if row else 0

    def get_expiry(self, key: str) -> float:
        row = _live(key)
        return row.expires_at.timestamp() if row else time.time()

    def check(self) -> bool:
        db.session.execute(select(1))
        return True

    def reset(self) -> int:
        """Forget every counter at once (an operator's or a test's action, outside requests): committed."""
        deleted = db.session.execute(delete(TABLE)).rowcount
        db.session.commit()
        return deleted

    def clear(self, key: str) -> None:
        db.session.execute(delete(TABLE).where(TABLE.c.key_hash == digest(key)))


@event.listens_for(AppSession, "after_commit")
def _committed(session: AppSession) -> None:
    """Committed increments are kept: a view that commits before refusing (refresh-token reuse) counts once."""
    session.info.pop(PENDING, None)


def init_app(app: Any) -> None:
    app.extensions.setdefault("after_rollback", []).append(keep_after_rollback)


def keep_after_rollback() -> None:
    """Write this request's increments again after its transaction was rolled back, and commit them: a refused
    login must still count. Called by the transaction edge, after the rollback."""
    increments = db.session().info.pop(PENDING, [])
    if not increments:
        return
    try:
        for key_hash, expiry, amount in increments:
            _increment(key_hash, expiry, amount)
        db.session.commit()
    except SQLAlchemyError:  # the database went away mid-request: the response already says so
        db.session.rollback()
        log.warning("rate-limit counters of a refused request not saved: database error")


def purge_expired(_app: Any) -> int:
    """Worker job: delete counters whose window has ended."""
    deleted = db.session.execute(
        delete(TABLE).where(TABLE.c.expires_at <= literal(db.utcnow(), UTCDateTime()))
    )
    db.session.commit()
    return deleted.rowcount
