"""The operator's door (portal/ops): probes, metrics behind a token, request ids, ProxyFix off by default."""

from __future__ import annotations

import json
import logging
import logging.config
import re
import secrets
from datetime import timedelta

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from portal import create_app, db, migrate
from portal.models import OutboxMessage
from portal.ops import logs
from portal.security import signing_keys
from portal.services import anonymization
from portal.services.audit import Actor
from tests.factories import make_customer, make_org, make_user
from tests.headers import header_problems

TOKEN = "metrics-" + "x" * 32


def make_app(tmp_path, **config) -> Flask:
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
            "SECRET_KEY": secrets.token_hex(32),
            "JWT_KEYS_PATH": str(tmp_path / "jwt-keys.json"),
            **config,
        }
    )


def checked(response, path: str, *, https: bool = False):
    """Plain test clients (apps of their own) get the same header checks as the suite's client."""
    assert not header_problems(path, https, response.headers), header_problems(path, https, response.headers)
    return response


# --- /health and /ready ---------------------------------------------------------------------------------------


def test_health_and_ready_on_a_migrated_database(client):
    assert client.get("/health").json == {"status": "ok"}
    assert client.get("/ready").json == {"status": "ready"}


def test_without_a_database_health_answers_and_ready_refuses(tmp_path):
    app = make_app(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'missing-dir' / 'portal.db'}")
    client = app.test_client()
    assert checked(client.get("/health"), "/health").json == {"status": "ok"}
    response = checked(client.get("/ready"), "/ready")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "reason": "database unreachable"}
    assert "missing-dir" not in response.text


def test_ready_refuses_a_schema_behind_the_code(tmp_path):
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    client = make_app(tmp_path).test_client()
    behind = "database schema is behind this code: run `flask --app portal db-upgrade`"
    assert checked(client.get("/ready"), "/ready").json == {
        "status": "unavailable",
        "reason": behind,
    }  # empty
    first = list(ScriptDirectory.from_config(migrate.alembic_config(url)).walk_revisions())[-1].revision
    migrate.upgrade(url, revision=first)
    response = client.get("/ready")
    assert response.status_code == 503 and response.json["reason"] == behind
    migrate.upgrade(url)
    assert client.get("/ready").status_code == 200


def test_ready_accepts_a_schema_ahead_of_the_code(tmp_path):
    """During a rolling upgrade the new release's migrations run first; the old code keeps serving."""
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'from_a_newer_release'"))
    engine.dispose()
    assert checked(make_app(tmp_path).test_client().get("/ready"), "/ready").json == {"status": "ready"}


def test_ready_refuses_unloadable_signing_keys(tmp_path):
    migrate.upgrade(f"sqlite:///{tmp_path / 'portal.db'}")
    (tmp_path / "jwt-keys.json").write_text('{"keys": [{"kty": "RSA", "n": "broken"}]}')
    response = checked(make_app(tmp_path).test_client().get("/ready"), "/ready")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "reason": "signing keys cannot be loaded"}


# --- /metrics -----------------------------------------------------------------------------------------------


def test_metrics_do_not_exist_without_a_configured_token(client, app):
    assert app.config["METRICS_TOKEN"] is None
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer ", "Bearer wrong", f"bearer {TOKEN}", f"Basic {TOKEN}", f"Bearer {TOKEN}x"],
)
def test_metrics_refuse_anything_but_the_token(client, monkeypatch, app, authorization):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "portal_" not in response.text


def gauge(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} not in the exposition"
    return float(match.group(1))


def test_metrics_count_requests_per_endpoint_and_report_the_backlog(client, monkeypatch, app):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    org = make_org()
    admin = Actor.of_user(make_user(org, "admin"))
    for hours_overdue in (1, 3):
        request = anonymization.request_anonymization(admin, org, make_customer(org))
        request.due_at = db.utcnow() - timedelta(hours=hours_overdue)
    anonymization.request_anonymization(admin, org, make_customer(org))  # not due yet
    db.session.add(OutboxMessage(kind="email", topic="t", attempts=2, last_error="SMTPDataError"))
    before = client.get("/metrics", headers=auth).text

    client.get("/health")
    text = client.get("/metrics", headers=auth).text

    health = 'portal_http_requests_total{endpoint="ops.health",method="GET",status="200"}'
    assert gauge(text, health) == (gauge(before, health) if health in before else 0) + 1
    assert (
        gauge(text, "portal_http_request_duration_seconds_count", '{endpoint="ops.health",method="GET"}') >= 1
    )
    assert gauge(text, "portal_anonymization_requests_due") == 2
    assert gauge(text, "portal_anonymization_requests_open", '{status="requested"}') == 3
    assert 3 * 3600 <= gauge(text, "portal_anonymization_oldest_due_age_seconds") < 3 * 3600 + 60
    assert gauge(text, "portal_outbox_failing", '{kind="email"}') == 1
    assert gauge(text, "portal_outbox_pending", '{kind="email"}') >= 1
    assert "@" not in text  # counts only: no address of the customers or the failing email


# --- request ids --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sane", ["5f0c1e9a-8d1b-4c5e-9a3b-2f1e0d9c8b7a", "Root=1-67891233-abcdef012345678912345678"]
)
def test_a_sane_inbound_request_id_is_echoed(client, sane):
    assert client.get("/health", headers={"X-Request-Id": sane}).headers["X-Request-Id"] == sane


@pytest.mark.parametrize(
    "insane", ["", "short", "a b c d e f g h", "x" * 200, "<script>alert(1)</script>", "é" * 10]
)
def test_an_insane_inbound_request_id_is_replaced(client, insane):
    echoed = client.get("/health", headers={"X-Request-Id": insane}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_error_pages_carry_a_request_id_too(client):
    response = client.get("/no/such/page/at/all")
    assert response.status_code == 404
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])


def test_log_lines_are_json_with_the_request_id(app, tmp_path):
    """The handler gunicorn.conf.py installs (logs.dict_config), applied to one logger of this test."""
    config = logs.dict_config()
    path = tmp_path / "log.jsonl"
    config["handlers"] = {"file": {**config["handlers"]["stderr"], "class": "logging.FileHandler"}}
    config["handlers"]["file"].pop("stream")
    config["handlers"]["file"]["filename"] = str(path)
    del config["root"]  # the root logger stays pytest's
    config["loggers"] = {"portal.test_ops": {"level": "INFO", "handlers": ["file"], "propagate": False}}
    logging.config.dictConfig(config)
    logger = logging.getLogger("portal.test_ops")
    with app.test_request_context(headers={"X-Request-Id": "req-12345678"}):
        app.preprocess_request()
        logger.info("inside a request")
    logger.info("outside")
    for handler in logger.handlers:
        handler.close()
    logger.handlers.clear()
    inside, outside = (json.loads(line) for line in path.read_text().splitlines())
    assert inside["message"] == "inside a request" and inside["request_id"] == "req-12345678"
    assert inside["level"] == "INFO" and inside["logger"] == "portal.test_ops"
    assert outside["request_id"] is None


# --- reverse proxies ----------------------------------------------------------------------------------------


FORWARDED_HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


def test_forwarded_headers_are_ignored_by_default(tmp_path):
    app = make_app(tmp_path)
    response = app.test_client().get("/health", headers=FORWARDED_HTTPS)
    assert "Strict-Transport-Security" not in response.headers  # the forged "https" was not believed


def test_one_trusted_proxy_hop_gives_the_scheme(tmp_path):
    app = make_app(tmp_path, PROXY_HOPS=1)
    response = checked(app.test_client().get("/health", headers=FORWARDED_HTTPS), "/health", https=True)
    assert "includeSubDomains" in response.headers["Strict-Transport-Security"]


def test_a_negative_hop_count_refuses_to_start(tmp_path):
    with pytest.raises(RuntimeError, match="PORTAL_PROXY_HOPS"):
        make_app(tmp_path, PROXY_HOPS=-1)


def test_signing_keys_given_as_an_environment_variable_are_loaded(tmp_path, monkeypatch):
    """PORTAL_JWT_KEYS (a deployment's shared key set): Flask parses the JSON value into a dict before we see it."""
    migrate.upgrade(f"sqlite:///{tmp_path / 'portal.db'}")
    signing_keys.key_set(make_app(tmp_path, JWT_KEYS_PATH=str(tmp_path / "generated.json")))
    monkeypatch.setenv("PORTAL_JWT_KEYS", (tmp_path / "generated.json").read_text())
    app = make_app(tmp_path, JWT_KEYS_PATH=str(tmp_path / "never-written.json"))
    assert isinstance(app.config["JWT_KEYS"], dict)
    assert checked(app.test_client().get("/ready"), "/ready").json == {"status": "ready"}
    assert not (tmp_path / "never-written.json").exists()


def test_database_errors_do_not_carry_the_values(db_session):
    """A failing statement's message (logged with its traceback by the worker and by Flask) names no bound value."""
    with pytest.raises(DBAPIError) as failure:
        db.session.execute(text("SELECT no_such_column WHERE :email = :email"), {"email": "ada@example.com"})
    db.session.rollback()
    assert "ada@example.com" not in str(failure.value)
    assert "hidden" in str(failure.value)
