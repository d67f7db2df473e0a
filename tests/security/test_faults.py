"""Fault drills on a real server process (gunicorn on 127.0.0.1), security.md R2 and R7.

(a) The database goes away: unreachable from the start, or the app's backend killed (pg_terminate_backend) while
    a write is in flight → a clean 503 (an HTML page for pages, a JSON:API error for /api and /oauth), nothing of
    the write left behind, and the next request works again.
(b) The rate-limit store (Redis) is down → pages that count nothing keep working; what counts (credential
    checks, /oauth/token) must not turn into 500s.
(c) SMTP down is covered by tests/test_mailer.py (the outbox retries); not repeated here.

Each drill runs its own server process, so its configuration (a dead Redis, another database) never touches the
suite's app, and the traffic stays on loopback.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from portal import migrate
from portal.db import Base
from tests.databases import PG_ADMIN_URL, create_postgres_database, drop_postgres_database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NOWHERE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
NOWHERE_REDIS = "redis://127.0.0.1:1"
JSONAPI_PATHS = ("/api/", "/oauth/")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(instance: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return {
        **env,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_INSTANCE_PATH": str(instance),
        "PORTAL_SECRET_KEY": "fault-drill-" + "x" * 32,
        **extra,
    }


def load_demo(env: dict[str, str]) -> dict:
    """The demo org (staff, shoppers, API credentials) through the real CLI; returns its JSON description.

    The demo org lets a storefront frame it, so its shopper cookie is `Secure; SameSite=None; Partitioned`,
    which browsers send to http://127.0.0.1 but `requests` does not: the drills use it as a plain org."""
    done = subprocess.run(  # noqa: S603 - fixed command
        [str(BIN / "flask"), "--app", "portal", "demo", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    url = env["PORTAL_DATABASE_URL"]
    engine = create_engine(url)
    empty = "'[]'::json" if url.startswith("postgresql") else "'[]'"
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE organizations SET allowed_origins = {empty}"))  # noqa: S608
    engine.dispose()
    return json.loads(done.stdout[done.stdout.index("{") :])


@contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    """gunicorn (1 worker, 4 threads) on a free loopback port; yields its base URL once it answers."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed command
        [
            str(BIN / "gunicorn"),
            "-w",
            "1",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # ≤ 30 s: any HTTP answer means the worker is up
            try:
                requests.get(f"{base}/.well-known/jwks.json", timeout=5)
                break
            except (
                requests.ConnectionError,
                requests.Timeout,
            ):  # not listening yet, or the worker still booting
                assert process.poll() is None, "the server process exited"
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start within 30 s")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def csrf_post(session: requests.Session, url: str, data: dict) -> requests.Response:
    """Load the form's page (session cookie + CSRF token), then submit it, as a browser does."""
    page = session.get(url, timeout=30)
    match = CSRF.search(page.text)
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return session.post(url, data={"csrf_token": match.group(1), **data}, timeout=30, allow_redirects=False)


def assert_clean_503(response: requests.Response, path: str) -> None:
    assert response.status_code == 503, (path, response.status_code, response.text[:300])
    assert response.headers.get("Retry-After")
    assert "frame-ancestors" in response.headers.get("Content-Security-Policy", "")
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    if path.startswith(JSONAPI_PATHS):
        assert "json" in response.headers["Content-Type"]
        (error,) = response.json()["errors"]
        assert error["status"] == "503" and error["code"] == "SERVICE_UNAVAILABLE"
    else:
        assert response.headers["Content-Type"].startswith("text/html")
        assert "<html" in response.text.lower() and "Traceback" not in response.text


# --- (a) the database is gone ----------------------------------------------------------------------------------


def test_unreachable_database_answers_503_quickly(tmp_path):
    """R7: a dead database is an outage page within 3 s, never a traceback or a hang."""
    with server(_env(tmp_path, NOWHERE_DB)) as base:
        for method, path, body in [
            ("GET", "/demo/account/login", None),
            (
                "POST",
                "/oauth/token",
                {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
            ),
        ]:
            started = time.perf_counter()
            response = requests.request(method, base + path, json=body, timeout=10)
            assert time.perf_counter() - started < 3, path
            assert_clean_503(response, path)


@pytest.fixture()
def pg_demo(tmp_path) -> Iterator[tuple[str, str, dict]]:
    """A throwaway PostgreSQL database with the demo org, and a server on it: (database name, base URL, demo)."""
    try:
        name, url = create_postgres_database()
    except Exception as error:  # noqa: BLE001 - any connection failure means there is no PostgreSQL here
        if os.environ.get("PORTAL_TEST_DATABASE") == "postgresql":
            raise
        pytest.skip(f"no PostgreSQL on 127.0.0.1 for pg_terminate_backend drills: {error}")
    try:
        migrate.upgrade(url)
        env = _env(tmp_path, url)
        demo = load_demo(env)
        with server(env) as base:
            yield url, base, demo
    finally:
        drop_postgres_database(name)


def snapshot(url: str, customer_public_id: str) -> dict:
    """Row counts of every table, the customer's row, and how many login sessions are revoked."""
    engine = create_engine(url)
    with engine.connect() as connection:
        state = {
            table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()  # noqa: S608
            for table in Base.metadata.tables
        }
        state["customer row"] = tuple(
            connection.execute(
                text("SELECT * FROM customers WHERE public_id = :id"), {"id": customer_public_id}
            ).one()
        )
        state["revoked sessions"] = connection.execute(
            text("SELECT count(*) FROM login_sessions WHERE revoked_at IS NOT NULL")
        ).scalar_one()
    engine.dispose()
    return state


def kill_while_blocked(url: str, customer_public_id: str, send) -> requests.Response:
    """Lock the customer's row from another connection, start `send()` (a write to that row) in a thread, wait
    until its backend waits for the lock, terminate that backend, release the lock; returns the response."""
    database = url.rsplit("/", 1)[1]
    locker_engine = create_engine(url)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    result: dict = {}
    try:
        with locker_engine.connect() as locker, admin.connect() as control:
            locker.execute(
                text("SELECT id FROM customers WHERE public_id = :id FOR UPDATE"), {"id": customer_public_id}
            )
            locker_pid = locker.execute(text("SELECT pg_backend_pid()")).scalar_one()
            thread = threading.Thread(target=lambda: result.setdefault("response", send()))
            thread.start()
            blocked = []
            for _ in range(300):  # ≤ 30 s for the request to reach its UPDATE
                blocked = (
                    control.execute(
                        text(
                            "SELECT pid FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock' "
                            "AND pid <> :locker"
                        ),
                        {"db": database, "locker": locker_pid},
                    )
                    .scalars()
                    .all()
                )
                if blocked:
                    break
                time.sleep(0.1)
            assert blocked, "the request never waited on the row lock"
            for pid in blocked:
                control.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            thread.join(timeout=30)
            locker.rollback()
    finally:
        locker_engine.dispose()
        admin.dispose()
    assert "response" in result, "the request did not finish after its backend was terminated"
    return result["response"]


def test_api_write_whose_connection_dies_answers_503_and_writes_nothing(pg_demo):
    url, base, demo = pg_demo
    integration = next(a for a in demo["applications"] if a["kind"] == "integration")
    token = requests.post(
        f"{base}/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": integration["client_id"],
            "client_secret": integration["client_secret"],
        },
        timeout=30,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.api+json"}
    found = requests.get(
        f"{base}/api/customers",
        params={"filter[q][email_eq]": "ada@example.com"},
        headers=headers,
        timeout=30,
    ).json()["data"]
    customer_id = found[0]["id"]
    before = snapshot(url, customer_id)
    body = {"data": {"type": "customers", "id": customer_id, "attributes": {"metadata": {"drill": "lost"}}}}
    path = f"/api/customers/{customer_id}"

    response = kill_while_blocked(
        url,
        customer_id,
        lambda: requests.patch(
            base + path,
            data=json.dumps(body),
            headers={**headers, "Content-Type": "application/vnd.api+json"},
            timeout=60,
        ),
    )

    assert_clean_503(response, path)
    assert snapshot(url, customer_id) == before
    again = requests.get(base + path, headers=headers, timeout=30)  # the pool replaced the dead connection
    assert again.status_code == 200 and again.json()["data"]["attributes"]["metadata"] != {"drill": "lost"}


def test_page_write_whose_connection_dies_answers_503_and_writes_nothing(pg_demo):
    """A password change (customer row + every other session revoked) dies mid-flight: nothing of it stays."""
    url, base, demo = pg_demo
    slug, password = demo["organization"]["slug"], demo["shopper_area"]["password"]
    email = "ada@example.com"
    login_url = f"{base}/{slug}/account/login"
    browser, other_browser = requests.Session(), requests.Session()
    for session in (browser, other_browser):
        assert csrf_post(session, login_url, {"email": email, "password": password}).status_code == 303
    engine = create_engine(url)
    with engine.connect() as connection:
        customer_id = connection.execute(
            text("SELECT public_id FROM customers WHERE email = :email"), {"email": email}
        ).scalar_one()
    engine.dispose()
    before = snapshot(url, customer_id)
    path = f"/{slug}/account/password"
    page = browser.get(base + path, timeout=30)
    form = {
        "csrf_token": CSRF.search(page.text).group(1),
        "current_password": password,
        "password": "a brand new passphrase 42",
        "confirm": "a brand new passphrase 42",
    }

    response = kill_while_blocked(
        url, customer_id, lambda: browser.post(base + path, data=form, timeout=60, allow_redirects=False)
    )

    assert_clean_503(response, path)
    assert snapshot(url, customer_id) == before
    assert other_browser.get(f"{base}/{slug}/account/", timeout=30, allow_redirects=False).status_code == 200
    fresh = requests.Session()
    assert csrf_post(fresh, login_url, {"email": email, "password": password}).status_code == 303


# --- (b) the rate-limit store is down --------------------------------------------------------------------------

# Flask-Limiter swallows storage errors and falls back to memory for its own limits (config), and
# security/throttle.py counts credential failures per process while the storage does not answer.


@pytest.fixture(scope="module")
def redis_down(tmp_path_factory) -> Iterator[tuple[str, dict]]:
    """A server whose rate-limit storage is a Redis URL where nothing listens, on a demo SQLite database."""
    instance = tmp_path_factory.mktemp("redis-down")
    url = f"sqlite:///{instance / 'portal.db'}"
    migrate.upgrade(url)
    env = _env(instance, url, PORTAL_RATELIMIT_STORAGE_URL=NOWHERE_REDIS)
    demo = load_demo(env)
    with server(env) as base:
        yield base, demo


def test_redis_down_pages_that_count_nothing_keep_working(redis_down):
    base, demo = redis_down
    for path in ("/health", "/admin/login", f"/{demo['organization']['slug']}/account/login"):
        assert requests.get(base + path, timeout=30).status_code == 200, path


def test_redis_down_credential_checks_do_not_fail_with_500(redis_down):
    base, demo = redis_down
    slug = demo["organization"]["slug"]
    statuses = {
        "admin login": csrf_post(
            requests.Session(), f"{base}/admin/login", {"email": "admin@demo.example", "password": "wrong"}
        ).status_code,
        "shop login": csrf_post(
            requests.Session(),
            f"{base}/{slug}/account/login",
            {"email": "ada@example.com", "password": "wrong"},
        ).status_code,
        "oauth token": requests.post(
            f"{base}/oauth/token",
            json={"grant_type": "client_credentials", "client_id": "nope", "client_secret": "nope"},
            timeout=30,
        ).status_code,
    }
    assert statuses == {"admin login": 422, "shop login": 422, "oauth token": 401}, statuses


def test_redis_down_api_sign_ups_keep_working(redis_down):
    """Guest sign-ups are counted in the limiter's storage; while it is down they go on, uncounted."""
    base, demo = redis_down
    storefront = next(a for a in demo["applications"] if a["kind"] == "sales_channel")
    grant = {"grant_type": "client_credentials", "client_id": storefront["client_id"]}
    token = requests.post(f"{base}/oauth/token", json=grant, timeout=30).json()["access_token"]
    response = requests.post(
        f"{base}/api/customers",
        json={"data": {"type": "customers", "attributes": {"email": "redis.down@example.com"}}},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.api+json"},
        timeout=30,
    )
    assert response.status_code == 201, response.text


def test_redis_down_lockout_still_holds_per_process(redis_down):
    """The documented fail mode (SECURITY.md): per-process counters, so brute force stays bounded."""
    base, demo = redis_down
    url = f"{base}/admin/login"
    email = "viewer@demo.example"
    for _ in range(10):
        assert csrf_post(requests.Session(), url, {"email": email, "password": "wrong"}).status_code == 422
    right = csrf_post(requests.Session(), url, {"email": email, "password": demo["admin_area"]["password"]})
    assert right.status_code == 422  # locked out: the right password gets the same answer as a wrong one
