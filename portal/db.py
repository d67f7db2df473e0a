"""Database plumbing: the declarative base, one scoped session per app context, commit at the edge."""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask.globals import _cv_request
from sqlalchemy import JSON, DateTime, Enum, MetaData, String, TypeDecorator, create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PUBLIC_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id(length: int = 10) -> str:
    """A short random id like Commerce Layer's hash ids (`XAyRWNUzyN`): 52^10 ≈ 1.4e17 values."""
    return "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(length))


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone, so we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def str_enum(cls: type[enum.Enum], name: str) -> Enum:
    """Enums are stored by value, as plain strings with a CHECK constraint (portable, easy to extend)."""
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e], native_enum=False, length=16)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class PublicIdMixin:
    """An integer key for joins and a random public id for URLs and the API."""

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True, default=new_public_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReferenceMixin:
    """Commerce Layer's common `reference`, `reference_origin` and `metadata` attributes."""

    reference: Mapped[str | None] = mapped_column(String(255))
    reference_origin: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class AppSession(Session):
    """A session bound to the current app's engine, so several apps can live in one process (tests, tools).

    `app.extensions["db_bind"]`, when set, takes precedence: tests bind the app to a connection inside a
    transaction they roll back (then commits only release savepoints: `join_transaction_mode`).
    """

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        app = current_app._get_current_object()
        return app.extensions.get("db_bind") or app.extensions["db_engine"]


SessionFactory = sessionmaker(
    class_=AppSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
)


def _session_scope() -> int:
    """One session per request, or per app context outside requests (CLI command, job)."""
    request_context = _cv_request.get(None)
    if request_context is not None:
        return id(request_context)
    try:
        return id(g._get_current_object())
    except RuntimeError:  # outside an app context: worker threads, scripts
        return 0


session: scoped_session = scoped_session(SessionFactory, scopefunc=_session_scope)


def make_engine(url: str, **options: Any) -> Engine:
    # A database error's message never carries the statement's values (emails, names): it reaches logs and tracebacks.
    options.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Let SQLAlchemy, not the sqlite3 module, issue BEGIN: savepoints then work as documented.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Freed cells and pages are zeroed, so an erased value does not linger in the file (SECURITY.md).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # A deferred transaction that reads, then writes after another process committed, fails at once
            # with "database is locked". Anything that may write takes the write lock up front and waits for it
            # (busy timeout); reads (GET requests) stay concurrent.
            reading = (
                has_request_context()
                and request.method in ("GET", "HEAD", "OPTIONS")
                and not connection.get_execution_options().get("portal_write")
            )
            connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, **options)
    _ping_when_idle(engine)
    return engine


# A pooled connection idle this long is pinged before use; one checked in since was just working.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """`pool_pre_ping`, minus the round trip on connections that served a request a moment ago: a busy worker reuses
    its connection many times a second, and pinging each checkout cost a tenth of an API request. A connection that
    has waited in the pool (where a database restart or an idle timeout can break it) is pinged; one that fails
    discards the whole pool, as with `pool_pre_ping`, and the request gets a new connection. The trade-off: a
    connection that dies within a second of its last use (a failover, `pg_terminate_backend`) reaches a request,
    which answers 503 "try again later" (portal/web.py); that failure discards the pool in the same way."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _working(_dbapi_connection, record) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info.get("checked_in_at", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError("a pooled connection failed its ping") from error


def reads_only(view: Callable) -> Callable:
    """Mark a page whose GET only reads (one-statement bookkeeping aside): on PostgreSQL it runs in autocommit
    (`autocommit_reads`), so a write of several statements there would not be atomic. Put it right under the route
    decorator."""
    view.reads_only = True  # type: ignore[attr-defined]
    return view


def autocommit_reads(endpoint: str | None = None) -> None:
    """On PostgreSQL the statements of a GET to the API or to a page marked `reads_only` run in autocommit, each
    reading its own snapshot, so the request sends no BEGIN and no COMMIT. A write on the way is one statement
    committed at once (a session's last-seen time) or ends this with a commit and gets a transaction of its own (the
    rate limit's counter). SQLite keeps its transactions (they cost no round trip); so do tests bound to one
    connection inside a transaction. Called before the request's first statement: a before_request, or the cookie
    session's opening where it reads a shopper page's organization (`endpoint`: the URL matched there)."""
    if request.method not in ("GET", "HEAD"):
        return
    endpoint = endpoint or request.endpoint or ""
    view = current_app.view_functions.get(endpoint)
    if not endpoint.startswith("api.") and not getattr(view, "reads_only", False):
        return
    app = current_app._get_current_object()
    bind = app.extensions.get("db_bind") or app.extensions["db_engine"]
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql" and not session().in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def write_apart(statement: Any) -> None:
    """Run one small bookkeeping write (a session's last-seen time) in its own short transaction, committed at once.

    On SQLite a GET request reads in a deferred transaction; a write inside it must upgrade to the write lock, which
    fails at once ("database is locked", a 503) when another process committed since the read began. Here the write
    takes the lock up front (BEGIN IMMEDIATE) on a connection of its own and waits its turn (busy timeout), and
    the request's read transaction stays a pure read. PostgreSQL has no such upgrade: the request's session writes it
    (committed at once where the request reads in autocommit, `autocommit_reads`). Tests that bind the app to one
    connection inside a transaction get the write there too.
    """
    app = current_app._get_current_object()
    bind = app.extensions.get("db_bind") or app.extensions["db_engine"]
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        session.execute(statement)
        return
    with bind.connect().execution_options(portal_write=True) as connection, connection.begin():
        connection.execute(statement)


def checkpoint(engine: Engine) -> None:
    """SQLite: copy the WAL back into the database file and truncate it, so old page images of erased values leave
    the -wal file. Never waits: while another connection writes or reads an older snapshot it does what it can, and
    the next checkpoint finishes."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
    finally:
        raw.close()


def forget_on_commit() -> None:
    """Checkpoint the WAL once this transaction commits (SQLite), after erasing personal values outside the worker
    (which checkpoints after each run). PostgreSQL needs nothing here: autovacuum prunes the dead rows."""
    session.info["checkpoint"] = True


@event.listens_for(SessionFactory, "after_commit")
def _checkpoint_after_commit(committed: Session) -> None:
    if committed.info.pop("checkpoint", False):
        engine = committed.get_bind().engine
        if engine.dialect.name == "sqlite":
            checkpoint(engine)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.before_request(autocommit_reads)

    def _remove_session(exc: BaseException | None) -> None:
        if exc is not None:
            session.rollback()
        session.remove()

    app.teardown_request(_remove_session)
    app.teardown_appcontext(_remove_session)


def engine_of(app: Flask) -> Engine:
    return app.extensions["db_engine"]
