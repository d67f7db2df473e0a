"""Real-browser tests: the portal served by a real HTTP server in a thread, on its own committed database,
driven by Playwright through Debian's Chromium (/usr/bin/chromium; browser downloads are blocked here)."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from portal import create_app, db, migrate
from tests.conftest import _create_postgres_database, _drop_postgres_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@dataclass
class LiveServer:
    app: Flask
    url: str

    def data(self):
        """An app context whose session commits for real (the server thread must see the rows)."""
        return self.app.app_context()


def _serve(app: Flask, host: str) -> tuple[object, str]:
    server = make_server(host, 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_port}"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("live")
    pg_name = None
    if os.environ.get("PORTAL_TEST_DATABASE") == "postgresql":
        pg_name, url = _create_postgres_database()
    else:
        url = f"sqlite:///{instance / 'live.db'}"
    migrate.upgrade(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32),
                      "JWT_KEYS_PATH": str(instance / "jwt-keys.json"), "MAIL_DIR": str(instance / "mail")})
    server, base = _serve(app, "127.0.0.1")
    yield LiveServer(app, base)
    server.shutdown()
    db.engine_of(app).dispose()
    if pg_name:
        _drop_postgres_database(pg_name)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(chromium) -> Iterator[object]:
    context = chromium.new_context()
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page) -> list[dict]:
    """Run axe-core (from node_modules) on the current page; return its violations."""
    page.evaluate(AXE.read_text())  # evaluated through DevTools: the page's CSP stays in force for the page itself
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result["violations"]]
