"""refresh_token: rotation, reuse detection (family revoked), scope kept, and concurrent refreshes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from portal import db
from portal.extensions import limiter
from portal.models import OAuthToken
from portal.security.passwords import token_digest
from tests import factories
from tests.oauth.conftest import JWT_BEARER, issued


def customer_tokens(w, token, **extra):
    response = token(
        grant_type="password",
        client_id=w.sales.client_id,
        username="member@example.com",
        password=factories.PASSWORD,
        **extra,
    )
    assert response.status_code == 200, response.json
    return response.json


def refresh(w, token, refresh_token, **extra):
    return token(
        grant_type="refresh_token", client_id=w.sales.client_id, refresh_token=refresh_token, **extra
    )


def row(refresh_token: str) -> OAuthToken:
    return db.session.scalar(
        select(OAuthToken).where(OAuthToken.refresh_token_hash == token_digest(refresh_token))
    )


def test_rotation(world, token):
    first = customer_tokens(world, token, scope="market:code:vip")
    second = refresh(world, token, first["refresh_token"], scope="market:code:vip")
    assert second.status_code == 200, second.json
    body = second.json
    assert body["refresh_token"] != first["refresh_token"]
    assert body["owner_id"] == world.member.public_id and body["owner_type"] == "customer"
    assert body["scope"] == "market:code:vip"
    old, new = row(first["refresh_token"]), row(body["refresh_token"])
    assert old.refreshed_at is not None and old.family_id == new.family_id
    assert new.market_ids == [world.private.public_id]


def test_scope_may_be_omitted(world, token):
    first = customer_tokens(world, token, scope="market:code:vip")
    assert refresh(world, token, first["refresh_token"]).json["scope"] == "market:code:vip"


def test_reuse_revokes_the_family(world, token, client):
    first = customer_tokens(world, token)
    second = refresh(world, token, first["refresh_token"]).json
    before = issued()
    reused = refresh(world, token, first["refresh_token"])
    assert reused.status_code == 400 and reused.json["errors"][0]["title"] == "invalid_grant"
    assert issued() == before
    family = db.session.scalars(
        select(OAuthToken).where(OAuthToken.family_id == row(first["refresh_token"]).family_id)
    )
    assert all(t.revoked_at is not None for t in family)
    # The thief's (or the victim's) newest tokens are dead too.
    assert refresh(world, token, second["refresh_token"]).status_code == 400
    api = client.get("/provisioning/api/user", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert api.status_code == 401


def _expire(w, body):
    row(body["refresh_token"]).refresh_expires_at = db.utcnow() - timedelta(seconds=1)
    return {}


def _revoke_customer(w, body):
    w.member.anonymization_status = "completed"
    return {}


def _leave_group(w, body):
    w.member.customer_group_id = None
    return {}


REFUSALS = [
    ("unknown refresh token", lambda w, b: {"refresh_token": "nope"}, 400, "invalid_grant"),
    ("expired", _expire, 400, "invalid_grant"),
    ("other client", lambda w, b: {"client_id": w.other_sales.client_id}, 400, "invalid_grant"),
    ("different scope", lambda w, b: {"scope": "market:code:main"}, 400, "invalid_scope"),
    ("anonymized customer", _revoke_customer, 400, "invalid_grant"),
    ("customer left the private market's group", _leave_group, 400, "invalid_grant"),
    ("unknown client", lambda w, b: {"client_id": "nope"}, 401, "invalid_client"),
    ("missing refresh token", lambda w, b: {"refresh_token": None}, 400, "invalid_request"),
]


@pytest.mark.parametrize(("case", "change", "status", "error"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals(world, token, case, change, status, error):
    body = customer_tokens(world, token, scope="market:code:vip")
    request = {
        "grant_type": "refresh_token",
        "client_id": world.sales.client_id,
        "refresh_token": body["refresh_token"],
        "scope": "market:code:vip",
        **change(world, body),
    }
    before = issued()
    response = token(**{k: v for k, v in request.items() if v is not None})
    assert response.status_code == status, response.json
    assert response.json["errors"][0]["title"] == error
    assert issued() == before


def test_integration_refresh_needs_the_secret(world, token):
    from tests.oauth.test_jwt_bearer import assertion

    body = token(
        grant_type=JWT_BEARER,
        client_id=world.integration.client_id,
        client_secret=world.secret,
        assertion=assertion({"owner": {"type": "User", "id": world.admin.public_id}}),
    ).json
    without = token(
        grant_type="refresh_token", client_id=world.integration.client_id, refresh_token=body["refresh_token"]
    )
    assert without.status_code == 401
    with_secret = token(
        grant_type="refresh_token",
        client_id=world.integration.client_id,
        client_secret=world.secret,
        refresh_token=body["refresh_token"],
    )
    assert with_secret.status_code == 200, with_secret.json
    assert with_secret.json["owner_type"] == "user" and with_secret.json["scope"] == "market:all"


@pytest.mark.postgres_only
def test_twenty_parallel_refreshes_one_success(live_server):
    """Twenty clients race with one refresh token against a real server: exactly one gets new tokens."""
    if live_server.app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite serializes writers on one file; the race needs PostgreSQL row locks")
    with live_server.app.app_context():
        limiter.reset()
    with live_server.data():
        org = factories.make_org()
        sales, _ = factories.make_application(org, "sales_channel")
        factories.make_customer(org, "racer@example.com", password=factories.PASSWORD)
        db.session.commit()
        client_id = sales.client_id
    url = f"{live_server.url}/oauth/token"
    first = requests.post(
        url,
        json={
            "grant_type": "password",
            "client_id": client_id,
            "username": "racer@example.com",
            "password": factories.PASSWORD,
        },
        timeout=30,
    ).json()
    barrier = threading.Barrier(20)
    results: list[requests.Response] = []

    def race() -> None:
        barrier.wait()
        results.append(
            requests.post(
                url,
                json={
                    "grant_type": "refresh_token",
                    "client_id": client_id,
                    "refresh_token": first["refresh_token"],
                },
                timeout=60,
            )
        )

    threads = [threading.Thread(target=race) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with live_server.app.app_context():
        limiter.reset()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [400] * 19, [r.text for r in results if r.status_code not in (200, 400)]
    # The losers count as reuse: the whole family, the winner's new token included, ends up revoked.
    with live_server.data():
        family = db.session.scalars(
            select(OAuthToken).where(OAuthToken.refresh_token_hash == token_digest(first["refresh_token"]))
        ).one()
        assert family.refreshed_at is not None
        rows = db.session.scalars(select(OAuthToken).where(OAuthToken.family_id == family.family_id)).all()
        assert len(rows) == 2
        db.session.rollback()
