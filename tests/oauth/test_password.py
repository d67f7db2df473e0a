"""password: customer tokens through a sales channel, private markets, and the shared lockout."""

from __future__ import annotations

import pytest
from joserfc import jwt

from portal import db
from portal.security import signing_keys
from portal.services import customers
from tests import factories
from tests.oauth.conftest import issued

PASSWORD = factories.PASSWORD


def login(w, **overrides):
    return {
        "grant_type": "password",
        "client_id": w.sales.client_id,
        "username": "shopper@example.com",
        "password": PASSWORD,
        **overrides,
    }


def test_customer_token(world, token):
    response = token(**login(world, username="  Shopper@Example.com "))
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "created_at",
        "owner_id",
        "owner_type",
        "refresh_token",
    }
    assert body["owner_id"] == world.shopper.public_id and body["owner_type"] == "customer"
    assert body["scope"] == "market:all"
    payload = jwt.decode(body["access_token"], signing_keys.key_set(), algorithms=["RS512"]).claims
    assert payload["owner"] == {"type": "Customer", "id": world.shopper.public_id}


def test_form_body_works_too(world, token):
    assert token(form=True, **login(world)).status_code == 200


def test_group_member_gets_the_private_market(world, token):
    response = token(**login(world, username="member@example.com", scope="market:code:vip"))
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "market:code:vip"


def _anonymized(w):
    w.shopper.anonymization_status = "completed"
    return {}


REFUSALS = [
    ("wrong password", lambda w: {"password": "not the password"}, 400, "invalid_grant"),
    ("unknown email", lambda w: {"username": "nobody@example.com"}, 400, "invalid_grant"),
    ("not an email", lambda w: {"username": "x"}, 400, "invalid_grant"),
    ("other org's customer", lambda w: {"client_id": w.other_sales.client_id}, 400, "invalid_grant"),
    ("anonymized customer", _anonymized, 400, "invalid_grant"),
    ("huge password", lambda w: {"password": PASSWORD + "x" * 5000}, 400, "invalid_grant"),
    ("missing password", lambda w: {"password": None}, 400, "invalid_request"),
    ("missing username", lambda w: {"username": ""}, 400, "invalid_request"),
    ("password not a string", lambda w: {"password": ["x"]}, 400, "invalid_request"),
    ("unknown client", lambda w: {"client_id": "nope"}, 401, "invalid_client"),
    (
        "integration client",
        lambda w: {"client_id": w.integration.client_id, "client_secret": w.secret},
        401,
        "unauthorized_client",
    ),
    ("unknown market", lambda w: {"scope": "market:code:atlantis"}, 400, "invalid_scope"),
    ("private market, not a member", lambda w: {"scope": "market:code:vip"}, 400, "invalid_grant"),
]


@pytest.mark.parametrize(("case", "change", "status", "error"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals(world, token, case, change, status, error):
    before = issued()
    body = {k: v for k, v in login(world, **change(world)).items() if v is not None}
    response = token(**body)
    assert response.status_code == status, response.json
    assert response.json["errors"][0]["title"] == error
    assert issued() == before


def test_private_market_refusal_says_why(world, token):
    response = token(**login(world, scope="market:code:vip"))
    assert "not in its customer group" in response.json["errors"][0]["detail"]


def test_customer_without_password(world, token):
    factories.make_customer(world.org, "nopass@example.com")
    assert token(**login(world, username="nopass@example.com")).status_code == 400


def test_lockout_after_ten_failures_looks_like_a_wrong_password(world, token):
    wrong = [token(**login(world, password=f"wrong {i}")) for i in range(10)]
    assert {r.status_code for r in wrong} == {400}
    before = issued()
    locked = token(**login(world))  # the 11th attempt, with the right password
    assert locked.status_code == 400
    assert locked.json == wrong[-1].json
    assert issued() == before
    # Other accounts of the org are not affected.
    assert token(**login(world, username="member@example.com")).status_code == 200


def test_lockout_is_shared_with_the_web_login(world, token):
    from portal.security import throttle

    for _ in range(10):
        throttle.failed(f"customer:{world.org.id}", "shopper@example.com", None)
    assert token(**login(world)).status_code == 400


def test_password_change_ends_tokens(world, token):
    body = token(**login(world)).json
    customers.end_all_sessions(world.shopper)
    db.session.flush()
    refreshed = token(
        grant_type="refresh_token", client_id=world.sales.client_id, refresh_token=body["refresh_token"]
    )
    assert refreshed.status_code == 400
