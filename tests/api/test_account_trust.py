"""Issue 12, items 3, 5, 6 and 11: what a public sales-channel token or a customer's own token can do to an account
that is not (or not only) theirs."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from portal import db
from portal.models import Address, CustomerAddress, Order, OutboxMessage
from portal.services import customers
from tests.api.conftest import MEDIA, customer_token
from tests.api.test_resources import ADDRESS, doc, ref
from tests.factories import PASSWORD, make_customer, make_market, make_order
from tests.shop.conftest import post_form

VICTIM = "victim@example.com"
ATTACKER_PASSWORD = "attacker chosen password"


def mails_to(address: str, topic: str) -> list[OutboxMessage]:
    rows = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)
    )
    return [message for message in rows if address in message.recipients]


def order_by_email(api, tenant, market) -> str:
    created = api(
        "POST",
        "/api/orders",
        tenant.admin,
        doc(
            "orders",
            {"customer_email": VICTIM, "currency_code": "EUR", "total_amount_cents": 4200},
            {"market": ref("markets", market.public_id)},
        ),
    )
    assert created.status_code == 201, created.json
    return created.json["data"]["id"]


def test_an_api_sign_up_with_someone_elses_email_does_not_receive_their_orders(api, client, tenant):
    signed_up = api(
        "POST",
        "/api/customers",
        tenant.guest,
        doc("customers", {"email": VICTIM, "password": ATTACKER_PASSWORD}),
    )
    assert signed_up.status_code == 201  # Commerce Layer's guest sign-up keeps working
    grant = {"grant_type": "password", "client_id": tenant.sales_channel.client_id}
    login = client.post("/oauth/token", data={**grant, "username": VICTIM, "password": ATTACKER_PASSWORD})
    assert login.status_code == 200  # and signs in at once
    attacker = login.json["access_token"]

    order = order_by_email(api, tenant, make_market(tenant.org, "shop"))

    assert api("GET", "/api/orders", attacker).json["data"] == []
    assert api("GET", f"/api/orders/{order}", attacker).status_code == 404
    stored = db.session.scalar(select(Order).where(Order.public_id == order))
    assert stored.customer_id is None and stored.customer_email == VICTIM
    # The victim's mailbox gets a link; following it makes the account the victim's, and only then the order joins.
    [check] = mails_to(VICTIM, "confirm_address")
    link = re.search(r"https?://[^/\s]+(/\S*/password/reset/\S+)", check.payload["text"]).group(1)
    mine = "the victim's own password"
    assert post_form(client, link, {"password": mine, "confirm": mine}).status_code == 303
    assert api("GET", "/api/orders", attacker).status_code == 401  # every session of the account ended
    db.session.refresh(stored)
    assert stored.customer is not None and stored.customer.email == VICTIM
    assert (
        client.post(
            "/oauth/token", data={**grant, "username": VICTIM, "password": ATTACKER_PASSWORD}
        ).status_code
        == 400
    )


def test_orders_by_email_still_join_a_guest_record_and_a_verified_account(api, tenant):
    market = make_market(tenant.org, "shop")
    guest = make_customer(tenant.org, VICTIM)
    order = order_by_email(api, tenant, market)
    assert db.session.scalar(select(Order).where(Order.public_id == order)).customer is guest
    verified = make_customer(tenant.org, "known@example.com", password=PASSWORD)
    verified.email_verified_at = db.utcnow()
    assert customers.receives_by_email(verified)


def test_a_customer_token_changes_email_or_password_only_with_the_current_password(api, tenant):
    shopper = make_customer(tenant.org, "shopper@example.com", password=PASSWORD)
    shopper.email_verified_at = db.utcnow()
    token = customer_token(tenant, shopper)
    path = f"/api/customers/{shopper.public_id}"
    for attributes in ({"email": "thief@example.com"}, {"password": "a thief's new password"}):
        refused = api("PATCH", path, token, doc("customers", attributes, id=shopper.public_id))
        assert refused.status_code == 422 and refused.json["errors"][0]["source"]["pointer"].endswith(
            "_current_password"
        )
        wrong = {**attributes, "_current_password": "not it"}
        assert api("PATCH", path, token, doc("customers", wrong, id=shopper.public_id)).status_code == 422
    db.session.refresh(shopper)
    assert shopper.email == "shopper@example.com" and customers.passwords.verify_password(
        shopper.password_hash, PASSWORD
    )
    assert (
        db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "email")
        )
        == 0
    )

    changed = api(
        "PATCH",
        path,
        token,
        doc("customers", {"email": "new@example.com", "_current_password": PASSWORD}, id=shopper.public_id),
    )

    assert changed.status_code == 200, changed.json
    db.session.refresh(shopper)
    assert shopper.email == "new@example.com" and shopper.email_verified_at is None
    [notice] = mails_to("shopper@example.com", "email_changed")
    assert "new@example.com" in notice.payload["text"]
    assert mails_to("new@example.com", "confirm_address")


def test_an_integration_token_keeps_commerce_layers_update(api, tenant):
    shopper = make_customer(tenant.org, "shopper@example.com", password=PASSWORD)
    path = f"/api/customers/{shopper.public_id}"
    body = doc(
        "customers",
        {"email": "renamed@example.com", "password": "another long password"},
        id=shopper.public_id,
    )
    assert api("PATCH", path, tenant.admin, body).status_code == 200


def link(api, token, address_id: str):
    return api(
        "POST",
        "/api/customer_addresses",
        token,
        doc("customer_addresses", {}, {"address": ref("addresses", address_id)}),
    )


def test_a_customer_token_links_only_addresses_it_can_already_see(api, tenant):
    """Item 5: another customer's order address copy, or an address the back office created, is refused."""
    victim = make_customer(tenant.org, VICTIM, password=PASSWORD)
    order = make_order(tenant.org, victim)
    order.shipping_address = Address(organization_id=tenant.org.id, **{**ADDRESS, "first_name": "Victim"})
    staff_made = api("POST", "/api/addresses", tenant.admin, doc("addresses", ADDRESS)).json["data"]["id"]
    db.session.flush()
    me = make_customer(tenant.org, password=PASSWORD)
    token = customer_token(tenant, me)

    for address_id in (order.shipping_address.public_id, staff_made):
        refused = link(api, token, address_id)
        assert refused.status_code == 422 and refused.json["errors"][0]["source"]["pointer"].endswith(
            "address"
        )
        assert api("GET", f"/api/addresses/{address_id}", token).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(CustomerAddress)) == 0

    mine = api("POST", "/api/addresses", token, doc("addresses", ADDRESS)).json["data"]["id"]
    assert link(api, token, mine).status_code == 201  # its own new address still joins its book
    assert link(api, customer_token(tenant, victim), order.shipping_address.public_id).status_code == 422
    book = doc(
        "customer_addresses",
        {},
        {"address": ref("addresses", staff_made), "customer": ref("customers", me.public_id)},
    )
    assert (
        api("POST", "/api/customer_addresses", tenant.admin, book).status_code == 201
    )  # the back office may


def test_guest_sign_ups_are_rate_limited_per_ip_and_per_client(api, tenant, app, monkeypatch):
    """Item 6: `taken` (422) vs created (201) stays, as in Commerce Layer; the probing it allows is bounded."""
    monkeypatch.setitem(app.config, "SIGNUP_RATE_LIMIT", "3 per hour")
    monkeypatch.setitem(app.config, "SIGNUP_CLIENT_RATE_LIMIT", "5 per hour")
    make_customer(tenant.org, VICTIM)
    probe = doc("customers", {"email": VICTIM})
    answers = [api("POST", "/api/customers", tenant.guest, probe).status_code for _ in range(4)]
    assert answers == [422, 422, 422, 429]
    new = doc("customers", {"email": "fresh@example.com"})
    assert api("POST", "/api/customers", tenant.guest, new).status_code == 429  # the IP's budget is spent
    headers = {"Accept": MEDIA, "Content-Type": MEDIA, "Authorization": f"Bearer {tenant.guest}"}
    elsewhere = [
        api.client.post(
            "/api/customers",
            data=json.dumps(probe),
            headers=headers,
            environ_base={"REMOTE_ADDR": f"192.0.2.{n}"},
        )
        for n in range(3)
    ]
    assert [r.status_code for r in elsewhere] == [422, 422, 429]  # the client's budget (5) is spent too
    assert api("POST", "/api/customers", tenant.admin, new).status_code == 201  # integrations are not counted
