"""Shared fixtures: one migrated database per run (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE=postgresql),
and one transaction per test, rolled back at the end."""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from flask import Flask, g
from flask.testing import FlaskClient

from portal import create_app, db, migrate
from portal.extensions import limiter
from tests.databases import create_postgres_database, drop_postgres_database
from tests.headers import header_problems
from tests.live import live_server  # noqa: F401 - fixture for browser and interop tests
from tests.receiver import receiver  # noqa: F401 - a real HTTP receiver for webhook tests


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("PORTAL_TEST_DATABASE") == "postgresql":
        name, url = create_postgres_database()
        yield url
        drop_postgres_database(name)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_hex(32),
            "JWT_KEYS_PATH": str(instance / "jwt-keys.json"),
            "MAIL_DIR": str(instance / "mail"),
            "SERVER_NAME": None,
            "API_COUNT_CACHE_SECONDS": 0,  # exact counts; tests/api/test_counts.py covers the cache
        }
    )
    migrate.upgrade(database_url)
    yield app
    db.engine_of(app).dispose()


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture()
def db_session(app: Flask) -> Iterator[None]:
    """Everything a test writes happens inside one outer transaction that is rolled back afterwards.
    Code under test may commit: with `create_savepoint` its commits only release savepoints."""
    engine = db.engine_of(app)
    connection = engine.connect()
    outer = connection.begin()
    app.extensions["db_bind"] = connection
    try:
        with app.app_context():
            yield
            db.session.remove()
    finally:
        db.session.remove()
        outer.rollback()
        connection.close()
        app.extensions.pop("db_bind", None)


class TransactionalClient(FlaskClient):
    """Each request runs in its own session on the test's connection, as in production. Before a request the
    test's pending changes are flushed (so the request sees them); after it the test's objects are expired
    (so the test sees what the request wrote). Every response, redirects included, must carry the security
    headers (tests/headers.py): the whole suite checks them, error pages and fragments too."""

    def open(self, *args, **kwargs):
        db.session.flush()
        # The request reuses the test's app context; give it an empty `g`, as a real request has (flask-login
        # and flask-wtf cache the user and the CSRF token there), and give the test its own back afterwards.
        saved = dict(g.__dict__)
        g.__dict__.clear()
        try:
            response = super().open(*args, **kwargs)
        finally:
            g.__dict__.clear()
            g.__dict__.update(saved)
        db.session.expire_all()
        for each in (*response.history, response):
            request = each.request
            problems = header_problems(
                request.path,
                request.scheme == "https",
                each.headers,
                bearer="Authorization" in request.headers,
            )
            assert not problems, f"{request.method} {request.path} → {each.status_code}: {problems}"
        return response


@pytest.fixture()
def client(app: Flask, db_session: None) -> FlaskClient:
    limiter.reset()
    app.test_client_class = TransactionalClient
    return app.test_client()


@pytest.fixture()
def hx() -> dict[str, str]:
    return {"HX-Request": "true"}


# --- a real SMTP server (aiosmtpd) for the email tests ---


class Inbox:
    def __init__(self):
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def text(message: Message) -> str:
        part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        return part.get_payload(decode=True).decode()

    def link(self, message: Message, path_part: str) -> str:
        """The path of the first link in the message's text containing `path_part`."""
        match = re.search(r"https?://[^/\s]+(/\S*" + re.escape(path_part) + r"\S*)", self.text(message))
        assert match, self.text(message)
        return match.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def smtp(app, monkeypatch):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    yield inbox
    controller.stop()


@pytest.fixture()
def committed(app, tmp_path, is_postgres):
    """A fresh migrated database (SQLite file, or a throwaway PostgreSQL database) that this test's session uses
    and commits to, and that worker subprocesses open through PORTAL_DATABASE_URL."""
    if is_postgres:
        name, url = create_postgres_database()
    else:
        name, url = None, f"sqlite:///{tmp_path / 'drill.db'}"
    migrate.upgrade(url)
    engine = db.make_engine(url)
    saved = app.extensions.get("db_bind")
    app.extensions["db_bind"] = engine
    try:
        with app.app_context():
            yield url
            db.session.remove()
    finally:
        db.session.remove()
        app.extensions["db_bind"] = saved
        engine.dispose()
        if name:
            drop_postgres_database(name)


def pytest_collection_modifyitems(config, items) -> None:
    """`postgres_only` tests need PostgreSQL's features (row locks, SKIP LOCKED, pg_dump, several machines on one
    database); `sqlite_only` tests stage SQLite's own behaviour (a read transaction's failed upgrade to a write).
    Each is skipped on the other database here, with the reason; `make test` and `make test-postgres` (CI) run
    both sets."""
    if os.environ.get("PORTAL_TEST_DATABASE") == "postgresql":
        marker, reason = "sqlite_only", "SQLite's behaviour: runs in make test (the embedded default)"
    else:
        marker = "postgres_only"
        reason = "needs PostgreSQL: runs in make test-postgres (PORTAL_TEST_DATABASE=postgresql)"
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker(marker):
            item.add_marker(skip)
