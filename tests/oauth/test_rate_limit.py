"""/oauth/token rate limits: per IP and per client_id, 429 with Retry-After in the errors shape; once on Redis."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests

from portal import migrate
from tests.factories import PASSWORD, make_application, make_customer, make_org

ROOT = Path(__file__).resolve().parents[2]


def unknown_client(client, client_id="nope"):
    return client.post("/oauth/token", json={"grant_type": "client_credentials", "client_id": client_id})


def assert_limited(response):
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    (problem,) = response.json["errors"]
    assert problem["code"] == "TOO_MANY_REQUESTS" and problem["status"] == 429


def test_per_ip(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TOKEN_RATE_LIMIT", "3 per minute")
    assert [unknown_client(client, f"client-{i}").status_code for i in range(3)] == [401] * 3
    assert_limited(unknown_client(client, "client-4"))
    # Revocation shares the per-IP budget's configuration but has its own counter.
    assert client.post("/oauth/revoke", json={"client_id": "x", "token": "y"}).status_code == 401


def test_per_client_id(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TOKEN_RATE_LIMIT", "100 per minute")
    monkeypatch.setitem(app.config, "TOKEN_CLIENT_RATE_LIMIT", "2 per minute")
    assert [unknown_client(client, "busy").status_code for _ in range(2)] == [401, 401]
    assert_limited(unknown_client(client, "busy"))
    assert unknown_client(client, "quiet").status_code == 401


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_per_client_budget_is_the_clients_whatever_the_spelling(app, client, monkeypatch):
    """Basic credentials are percent-decoded (RFC 6749 §2.3.1): re-encoding the id must not buy a fresh budget."""
    monkeypatch.setitem(app.config, "TOKEN_RATE_LIMIT", "100 per minute")
    monkeypatch.setitem(app.config, "TOKEN_CLIENT_RATE_LIMIT", "3 per minute")
    application, secret = make_application(make_org(), "integration")
    plain = application.client_id
    spellings = [plain, "".join(f"%{b:02X}" for b in plain.encode()), f"%{ord(plain[0]):02x}{plain[1:]}"]
    body = {"grant_type": "client_credentials"}
    statuses = [
        client.post("/oauth/token", json=body, headers=_basic(s, secret)).status_code for s in spellings
    ]
    assert statuses == [200, 200, 200]
    assert_limited(client.post("/oauth/token", json=body, headers=_basic(spellings[1], secret)))
    assert_limited(client.post("/oauth/token", json={**body, "client_id": plain, "client_secret": secret}))


def test_a_refusal_that_commits_counts_once(app, client, monkeypatch):
    """Refresh-token reuse commits the family's revocation, then answers 400: its request is counted once."""
    monkeypatch.setitem(app.config, "TOKEN_RATE_LIMIT", "4 per minute")
    org = make_org()
    sales, _ = make_application(org, "sales_channel")
    make_customer(org, "counted@example.com", password=PASSWORD)
    login = {"grant_type": "password", "client_id": sales.client_id, "username": "counted@example.com"}
    first = client.post("/oauth/token", json={**login, "password": PASSWORD}).json
    refresh = {
        "grant_type": "refresh_token",
        "client_id": sales.client_id,
        "refresh_token": first["refresh_token"],
    }
    statuses = [client.post("/oauth/token", json=refresh).status_code for _ in range(3)]
    assert statuses == [200, 400, 400]
    assert_limited(client.post("/oauth/token", json=refresh))


def test_default_is_commerce_layers_30_per_minute(app, client):
    statuses = [unknown_client(client, f"c{i}").status_code for i in range(31)]
    assert statuses == [401] * 30 + [429]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_counters_in_redis(tmp_path, is_postgres):
    """A real gunicorn process with PORTAL_RATELIMIT_STORAGE_URL on Redis db 15 and a key prefix of its own."""
    store = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        store.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is expected on 127.0.0.1:6379 for this test: {error}")
    url = f"sqlite:///{tmp_path / 'redis.db'}"
    migrate.upgrade(url)
    prefix = f"oauth-test-{secrets.token_hex(4)}"
    port = _free_port()
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": url,
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PORTAL_RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/15",
        "PORTAL_RATELIMIT_KEY_PREFIX": prefix,
        "PORTAL_TOKEN_RATE_LIMIT": "3 per minute",
    }
    server = subprocess.Popen(  # noqa: S603 - fixed command
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/.well-known/jwks.json", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        body = {"grant_type": "client_credentials", "client_id": "nope"}
        # Two workers, one shared budget: only shared Redis counters stop the fourth request.
        statuses = [requests.post(f"{base}/oauth/token", json=body, timeout=10).status_code for _ in range(6)]
        assert statuses[:3] == [401] * 3 and statuses[3:] == [429] * 3
        assert list(store.scan_iter(f"*/{prefix}/*"))
    finally:
        server.terminate()
        server.wait(timeout=20)
        for key in store.scan_iter(f"*/{prefix}/*"):
            store.delete(key)
