"""client_credentials: guest, integration and provisioning tokens, and every way to be refused."""

from __future__ import annotations

import base64

import pytest
from joserfc import jwt

from portal import db
from portal.security import signing_keys
from portal.services import groups
from tests import factories
from tests.oauth.conftest import issued


def claims(access_token: str) -> dict:
    return jwt.decode(access_token, signing_keys.key_set(), algorithms=["RS512"]).claims


def test_guest_token_has_commerce_layer_shape(world, token):
    response = token(
        grant_type="client_credentials", client_id=world.sales.client_id, scope="market:code:main"
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "created_at"}
    assert (
        body["token_type"] == "bearer" and body["expires_in"] == 14400 and body["scope"] == "market:code:main"
    )
    payload = claims(body["access_token"])
    assert payload["application"] == {
        "id": world.sales.public_id,
        "client_id": world.sales.client_id,
        "kind": "sales_channel",
        "public": True,
        "confidential": False,
    }
    assert payload["organization"] == {
        "id": world.org.public_id,
        "slug": world.org.slug,
        "enterprise": True,
        "region": "eu-west-1",
    }
    main = groups.find_market(world.org, code="main")
    assert payload["market"] == {
        "id": [main.public_id],
        "stock_location_ids": [],
        "geocoder_id": None,
        "allows_external_prices": False,
    }
    assert "owner" not in payload and payload["iss"] == "https://auth.localhost" and payload["test"] is True
    header = jwt.decode(body["access_token"], signing_keys.key_set(), algorithms=["RS512"]).header
    assert header == {"alg": "RS512", "typ": "JWT", "kid": signing_keys.signing_key().kid}


def test_integration_token_is_market_all(world, token):
    response = token(
        form=True,
        grant_type="client_credentials",
        client_id=world.integration.client_id,
        client_secret=world.secret,
    )
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "market:all" and response.json["expires_in"] == 7200
    payload = claims(response.json["access_token"])
    assert payload["application"]["kind"] == "integration"
    assert payload["application"]["public"] is False and payload["application"]["confidential"] is True
    assert "market" not in payload


def test_integration_may_use_a_private_market(world, token):
    response = token(
        grant_type="client_credentials",
        client_id=world.integration.client_id,
        client_secret=world.secret,
        scope=f"market:id:{world.private.public_id}",
    )
    assert response.status_code == 200
    assert claims(response.json["access_token"])["market"]["id"] == [world.private.public_id]


def test_provisioning_token(world, token):
    application, secret = factories.make_application(None, "user", user=world.admin)
    response = token(grant_type="client_credentials", client_id=application.client_id, client_secret=secret)
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "provisioning-api"
    payload = claims(response.json["access_token"])
    assert payload["application"]["kind"] == "user"
    assert payload["user"] == {"id": world.admin.public_id} and payload["test"] is False
    assert "organization" not in payload


def _disabled_user_credentials(world):
    application, secret = factories.make_application(None, "user", user=world.admin)
    world.admin.disabled_at = db.utcnow()
    return {"client_id": application.client_id, "client_secret": secret}


def _revoked(world):
    world.integration.revoked_at = db.utcnow()
    return {"client_id": world.integration.client_id, "client_secret": world.secret}


REFUSALS = [
    ("unknown client", lambda w: {"client_id": "nope"}, 401, "invalid_client"),
    ("no client", lambda w: {}, 401, "invalid_client"),
    ("integration without secret", lambda w: {"client_id": w.integration.client_id}, 401, "invalid_client"),
    (
        "wrong secret",
        lambda w: {"client_id": w.integration.client_id, "client_secret": "wrong"},
        401,
        "invalid_client",
    ),
    (
        "secret sent to a public sales channel",
        lambda w: {"client_id": w.sales.client_id, "client_secret": "guess"},
        401,
        "invalid_client",
    ),
    ("revoked application", _revoked, 401, "invalid_client"),
    (
        "unknown market code",
        lambda w: {"client_id": w.sales.client_id, "scope": "market:code:nowhere"},
        400,
        "invalid_scope",
    ),
    (
        "unsupported scope",
        lambda w: {"client_id": w.sales.client_id, "scope": "stock_location:code:x"},
        400,
        "invalid_scope",
    ),
    (
        "private market for a guest",
        lambda w: {"client_id": w.sales.client_id, "scope": "market:code:vip"},
        400,
        "invalid_grant",
    ),
    ("disabled provisioning user", _disabled_user_credentials, 400, "invalid_grant"),
]


@pytest.mark.parametrize(("case", "body", "status", "error"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals(world, token, case, body, status, error):
    before = issued()
    response = token(grant_type="client_credentials", **body(world))
    assert response.status_code == status, response.json
    (problem,) = response.json["errors"]
    assert problem["title"] == error and problem["status"] == status
    assert problem["code"] == ("UNAUTHORIZED" if status == 401 else "BAD_REQUEST")
    assert problem["detail"]
    assert issued() == before


def test_other_org_market_by_id_is_unknown(world, token):
    other_market = factories.make_market(world.other_org, "elsewhere")
    response = token(
        grant_type="client_credentials",
        client_id=world.sales.client_id,
        scope=f"market:id:{other_market.public_id}",
    )
    assert response.status_code == 400 and response.json["errors"][0]["title"] == "invalid_scope"


def test_private_market_detail_is_clear(world, token):
    response = token(
        grant_type="client_credentials", client_id=world.sales.client_id, scope="market:code:vip"
    )
    assert "private" in response.json["errors"][0]["detail"]


def test_client_secret_basic(world, client):
    credentials = base64.b64encode(f"{world.integration.client_id}:{world.secret}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}"}
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert response.status_code == 200, response.json
    assert claims(response.json["access_token"])["application"]["client_id"] == world.integration.client_id
    wrong = base64.b64encode(f"{world.integration.client_id}:nope".encode()).decode()
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {wrong}"}
    )
    assert response.status_code == 401
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": world.sales.client_id},
        headers=headers,
    )
    assert response.status_code == 400 and response.json["errors"][0]["title"] == "invalid_request"
