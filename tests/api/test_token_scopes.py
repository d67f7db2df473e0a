"""What each kind of token reaches (issue 15 items 8 and 9): market scopes filter data; sales channels read markets,
create and read back addresses, and run the password-reset flow of Commerce Layer's Identity app; customers read
their markets and new addresses and update their address-book entries."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal import db
from portal.models import OutboxMessage, PasswordReset
from portal.security import passwords
from tests.api.conftest import customer_token
from tests.factories import PASSWORD, make_customer, make_group, make_market, make_order, token_for

ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "line_1": "12 St James's Square",
    "city": "London",
    "zip_code": "SW1Y 4JH",
    "country_code": "GB",
    "phone": "+44 20 7946 0000",
}


def doc(type, attributes=None, relationships=None, id=None):
    data = {"type": type, "attributes": attributes or {}}
    if relationships:
        data["relationships"] = relationships
    if id:
        data["id"] = id
    return {"data": data}


def ref(type, id):
    return {"data": {"type": type, "id": id}}


def listed(api, token, path):
    response = api("GET", path, token)
    assert response.status_code == 200, response.json
    return sorted(item["id"] for item in response.json["data"])


@pytest.fixture()
def markets(tenant):
    eu, us = make_market(tenant.org, "eu"), make_market(tenant.org, "us")
    shopper = make_customer(tenant.org, password=PASSWORD)
    return {
        "eu": eu,
        "us": us,
        "shopper": shopper,
        "in_eu": make_order(tenant.org, shopper, market=eu),
        "in_us": make_order(tenant.org, shopper, market=us),
    }


@pytest.mark.parametrize("scope", ["market:id:{eu.public_id}", "market:code:eu"])
def test_a_market_scoped_integration_token_sees_only_that_markets_data(api, client, tenant, markets, scope):
    eu, us = markets["eu"], markets["us"]
    from tests.factories import make_application

    integration, secret = make_application(tenant.org, "integration", "admin")
    db.session.flush()
    issued = client.post(
        "/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": integration.client_id,
            "client_secret": secret,
            "scope": scope.format(eu=eu),
        },
    )
    assert issued.status_code == 200, issued.json
    token = issued.json["access_token"]
    assert listed(api, token, "/api/orders") == [markets["in_eu"].public_id]
    assert listed(api, token, "/api/markets") == [eu.public_id]
    assert api("GET", f"/api/orders/{markets['in_us'].public_id}", token).status_code == 404
    assert api("GET", f"/api/markets/{us.public_id}", token).status_code == 404
    customer_orders = listed(api, token, f"/api/customers/{markets['shopper'].public_id}/orders")
    assert customer_orders == [markets["in_eu"].public_id]
    refused = api(
        "POST",
        "/api/orders",
        token,
        doc("orders", {"currency_code": "EUR"}, {"market": ref("markets", us.public_id)}),
    )
    assert refused.status_code == 422
    assert refused.json["errors"][0]["source"]["pointer"] == "/data/relationships/market"
    unscoped = listed(api, tenant.admin, "/api/orders")
    assert unscoped == sorted([markets["in_eu"].public_id, markets["in_us"].public_id])


def test_a_market_scoped_customer_token_sees_its_orders_in_that_market(api, tenant, markets):
    token = token_for(
        tenant.sales_channel, markets["shopper"], markets=[markets["us"]], scope="market:code:us"
    )
    assert listed(api, token, "/api/orders") == [markets["in_us"].public_id]
    assert listed(api, token, "/api/markets") == [markets["us"].public_id]


def test_customers_read_the_markets_they_may_shop_in(api, tenant):
    vip = make_group(tenant.org)
    public, private, other_private = (
        make_market(tenant.org, "pub"),
        make_market(tenant.org, "vip", group=vip),
        make_market(tenant.org, "staff", group=make_group(tenant.org)),
    )
    member = make_customer(tenant.org, password=PASSWORD, group=vip)
    outsider = make_customer(tenant.org, password=PASSWORD)
    seen = set(listed(api, customer_token(tenant, member), "/api/markets"))
    assert {public.public_id, private.public_id} <= seen and other_private.public_id not in seen
    assert private.public_id not in listed(api, customer_token(tenant, outsider), "/api/markets")
    guest = set(listed(api, tenant.guest, "/api/markets"))
    assert public.public_id in guest and private.public_id not in guest
    order = make_order(tenant.org, member, market=private)
    included = api("GET", "/api/orders?include=market", customer_token(tenant, member)).json
    assert included["data"][0]["relationships"]["market"]["data"]["id"] == private.public_id
    assert [item["id"] for item in included["included"]] == [private.public_id]
    # Leaving the group keeps the market of its own past order readable.
    member.customer_group_id = None
    db.session.flush()
    assert api("GET", f"/api/orders/{order.public_id}/market", customer_token(tenant, member)).json["data"]


def test_guests_create_and_read_back_single_addresses(api, tenant):
    created = api("POST", "/api/addresses", tenant.guest, doc("addresses", ADDRESS))
    assert created.status_code == 201, created.json
    address_id = created.json["data"]["id"]
    assert (
        api("GET", f"/api/addresses/{address_id}", tenant.guest).json["data"]["attributes"]["city"]
        == "London"
    )
    assert api("GET", "/api/addresses", tenant.guest).status_code == 401
    assert (
        api(
            "PATCH", f"/api/addresses/{address_id}", tenant.guest, doc("addresses", id=address_id)
        ).status_code
        == 401
    )
    theirs = api("POST", "/api/addresses", tenant.admin, doc("addresses", ADDRESS)).json["data"]["id"]
    assert api("GET", f"/api/addresses/{theirs}", tenant.guest).status_code == 404
    from tests.factories import make_application

    other_channel, _ = make_application(tenant.org, "sales_channel")
    assert api("GET", f"/api/addresses/{address_id}", token_for(other_channel)).status_code == 404


def test_customers_read_addresses_they_just_created_and_update_their_book(api, tenant):
    me = make_customer(tenant.org, password=PASSWORD)
    token = customer_token(tenant, me)
    first = api("POST", "/api/addresses", token, doc("addresses", ADDRESS)).json["data"]["id"]
    assert api("GET", f"/api/addresses/{first}", token).status_code == 200
    entry = api(
        "POST",
        "/api/customer_addresses",
        token,
        doc("customer_addresses", {}, {"address": ref("addresses", first)}),
    ).json["data"]["id"]
    second = api("POST", "/api/addresses", token, doc("addresses", {**ADDRESS, "city": "Paris"})).json[
        "data"
    ]["id"]
    moved = api(
        "PATCH",
        f"/api/customer_addresses/{entry}?include=address",
        token,
        doc(
            "customer_addresses",
            {"metadata": {"label": "home"}},
            {"address": ref("addresses", second), "customer": ref("customers", me.public_id)},
            id=entry,
        ),
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["data"]["attributes"]["metadata"] == {"label": "home"}
    assert moved.json["included"][0]["attributes"]["city"] == "Paris"
    assert api("GET", f"/api/addresses/{first}", token).status_code == 404  # left the book with the entry
    someone = make_customer(tenant.org)
    theirs = api("POST", "/api/addresses", tenant.admin, doc("addresses", ADDRESS)).json["data"]["id"]
    for relationships in (
        {"address": ref("addresses", theirs)},
        {"customer": ref("customers", someone.public_id)},
    ):
        response = api(
            "PATCH",
            f"/api/customer_addresses/{entry}",
            token,
            doc("customer_addresses", {}, relationships, id=entry),
        )
        assert response.status_code == 422, relationships


def _emailed_token() -> str:
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "password_reset").order_by(OutboxMessage.id.desc())
    ).first()
    return re.search(r"/password/reset/([A-Za-z0-9_-]+)", message.payload["text"]).group(1)


def test_a_storefront_runs_the_password_reset_flow(api, tenant):
    """Commerce Layer's Identity app: the sales channel creates a reset (the token goes by email, never into the
    response), then completes it with `_reset_password_token`."""
    customer = make_customer(tenant.org, "forgot@example.com", password=PASSWORD)
    created = api(
        "POST",
        "/api/customer_password_resets",
        tenant.guest,
        doc("customer_password_resets", {"customer_email": customer.email}),
    )
    assert created.status_code == 201, created.json
    reset_id = created.json["data"]["id"]
    assert created.json["data"]["attributes"]["reset_password_token"] is None
    token = _emailed_token()
    assert token not in created.get_data(as_text=True)
    assert api("GET", f"/api/customer_password_resets/{reset_id}", tenant.guest).status_code == 401
    assert api("GET", "/api/customer_password_resets", tenant.guest).status_code == 401
    wrong = api(
        "PATCH",
        f"/api/customer_password_resets/{reset_id}",
        tenant.guest,
        doc(
            "customer_password_resets",
            {"_reset_password_token": "nope", "customer_password": "a new long password"},
            id=reset_id,
        ),
    )
    assert wrong.status_code == 422
    done = api(
        "PATCH",
        f"/api/customer_password_resets/{reset_id}",
        tenant.guest,
        doc(
            "customer_password_resets",
            {"_reset_password_token": token, "customer_password": "a new long password"},
            id=reset_id,
        ),
    )
    assert done.status_code == 200, done.json
    assert done.json["data"]["attributes"]["reset_password_at"] is not None
    db.session.refresh(customer)
    assert passwords.verify_password(customer.password_hash, "a new long password")
    unknown = api(
        "POST",
        "/api/customer_password_resets",
        tenant.guest,
        doc("customer_password_resets", {"customer_email": "nobody@example.com"}),
    )
    assert unknown.status_code == 422


def test_an_integration_still_gets_the_reset_token_once(api, tenant):
    customer = make_customer(tenant.org, password=PASSWORD)
    created = api(
        "POST",
        "/api/customer_password_resets",
        tenant.admin,
        doc("customer_password_resets", {"customer_email": customer.email}),
    )
    token = created.json["data"]["attributes"]["reset_password_token"]
    reset = db.session.scalar(
        select(PasswordReset).where(PasswordReset.public_id == created.json["data"]["id"])
    )
    assert reset.token_hash == passwords.token_digest(token)


def test_guest_reset_requests_spend_the_sign_up_budget(api, app, tenant, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNUP_RATE_LIMIT", "2 per hour")
    customer = make_customer(tenant.org, password=PASSWORD)
    body = doc("customer_password_resets", {"customer_email": customer.email})
    statuses = [
        api("POST", "/api/customer_password_resets", tenant.guest, body).status_code for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
