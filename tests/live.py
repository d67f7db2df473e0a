"""A real HTTP server for the portal, in a thread, on its own committed database (browser and interop tests)."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from werkzeug.serving import make_server

from portal import create_app, db, migrate
from tests.databases import create_postgres_database, drop_postgres_database


@dataclass
class LiveServer:
    app: Flask
    url: str

    def data(self):
        """An app context whose session commits for real (the server thread must see the rows)."""
        return self.app.app_context()


def _closing(app: Flask):
    """Werkzeug's server closes a response (a static file's handle) only after draining the socket, and skips the
    close when that read fails because the browser reset the connection: the open file then surfaced as a
    ResourceWarning in whichever test the garbage collector ran in. Here a response is closed as soon as it has been
    sent (streaming responses still stream)."""

    def wsgi(environ, start_response):
        body = app(environ, start_response)

        def sent_then_closed():
            try:
                yield from body
            finally:
                if hasattr(body, "close"):
                    body.close()

        return sent_then_closed()

    return wsgi


def _serve(app: Flask, host: str) -> tuple[object, str]:
    server = make_server(host, 0, _closing(app), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_port}"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("live")
    pg_name = None
    if os.environ.get("PORTAL_TEST_DATABASE") == "postgresql":
        pg_name, url = create_postgres_database()
    else:
        url = f"sqlite:///{instance / 'live.db'}"
    migrate.upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(32),
            "JWT_KEYS_PATH": str(instance / "jwt-keys.json"),
            "MAIL_DIR": str(instance / "mail"),
        }
    )
    server, base = _serve(app, "127.0.0.1")
    app.config["BASE_URL"] = base  # links in mails and API documents point at this server
    yield LiveServer(app, base)
    server.shutdown()
    db.engine_of(app).dispose()
    if pg_name:
        drop_postgres_database(pg_name)
