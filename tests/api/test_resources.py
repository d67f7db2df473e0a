"""The customer domain's satellite resources: groups, markets, addresses, address book, orders."""

from __future__ import annotations

from sqlalchemy import func, select

from portal import db
from portal.models import Address, AuditEvent, CustomerAddress, CustomerGroup, Order
from tests.api.conftest import customer_token
from tests.factories import PASSWORD, make_customer, make_group, make_market, make_order


def doc(type, attributes=None, relationships=None, id=None):
    data = {"type": type, "attributes": attributes or {}}
    if relationships:
        data["relationships"] = relationships
    if id:
        data["id"] = id
    return {"data": data}


def ref(type, id):
    return {"data": {"type": type, "id": id}}


ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "line_1": "12 St James's Square",
    "city": "London",
    "zip_code": "SW1Y 4JH",
    "country_code": "gb",
    "phone": "+44 20 7946 0000",
}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_customer_groups_crud(api, tenant):
    created = api(
        "POST", "/api/customer_groups", tenant.admin, doc("customer_groups", {"name": "VIP", "code": "vip"})
    )
    assert created.status_code == 201
    group_id = created.json["data"]["id"]
    duplicate = api(
        "POST", "/api/customer_groups", tenant.admin, doc("customer_groups", {"name": "X", "code": "vip"})
    )
    assert duplicate.status_code == 422 and duplicate.json["errors"][0]["meta"]["error"] == "taken"
    for bad in ({"name": ""}, {"name": "Y", "code": "has space"}, {"name": "Y", "code": "x" * 26}):
        assert (
            api("POST", "/api/customer_groups", tenant.admin, doc("customer_groups", bad)).status_code == 422
        )
    updated = api(
        "PATCH",
        f"/api/customer_groups/{group_id}",
        tenant.admin,
        doc("customer_groups", {"name": "Very Important"}, id=group_id),
    )
    assert updated.json["data"]["attributes"]["name"] == "Very Important"
    listed = api("GET", "/api/customer_groups?filter[q][name_cont]=important", tenant.admin).json
    assert [g["id"] for g in listed["data"]] == [group_id]
    customer = make_customer(
        tenant.org, group=db.session.scalar(select(CustomerGroup).where(CustomerGroup.public_id == group_id))
    )
    members = api("GET", f"/api/customer_groups/{group_id}/customers", tenant.admin).json
    assert [c["id"] for c in members["data"]] == [customer.public_id]
    locked = api("DELETE", f"/api/customer_groups/{group_id}", tenant.admin)
    assert locked.status_code == 423
    customer.customer_group_id = None
    assert api("DELETE", f"/api/customer_groups/{group_id}", tenant.admin).status_code == 204
    assert count(CustomerGroup) == 0


def test_markets_read_and_become_private(api, tenant, other):
    group = make_group(tenant.org)
    market = make_market(tenant.org, "eu")
    listed = api("GET", "/api/markets?filter[q][code_eq]=eu", tenant.admin).json["data"]
    assert listed[0]["attributes"]["private"] is False
    response = api(
        "PATCH",
        f"/api/markets/{market.public_id}?include=customer_group",
        tenant.admin,
        doc("markets", {}, {"customer_group": ref("customer_groups", group.public_id)}, id=market.public_id),
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["attributes"]["private"] is True
    assert response.json["included"][0]["id"] == group.public_id
    assert (
        api(
            "PATCH",
            f"/api/markets/{market.public_id}",
            tenant.admin,
            doc("markets", {"name": "renamed"}, id=market.public_id),
        ).status_code
        == 400
    )
    assert api("POST", "/api/markets", tenant.admin, doc("markets", {"name": "new"})).status_code == 405
    assert api("GET", f"/api/markets/{market.public_id}", other.admin).status_code == 404
    guest_view = api("GET", "/api/markets", tenant.guest)  # a storefront reads the public markets only
    assert guest_view.status_code == 200
    assert [m["attributes"]["code"] for m in guest_view.json["data"]] == ["main"]  # the org's default, public
    assert api("GET", f"/api/markets/{market.public_id}", tenant.guest).status_code == 404
    patch = doc("markets", {}, id=market.public_id)
    assert api("PATCH", f"/api/markets/{market.public_id}", tenant.guest, patch).status_code == 401


def test_address_book_by_integration(api, tenant):
    customer = make_customer(tenant.org)
    address = api("POST", "/api/addresses", tenant.admin, doc("addresses", ADDRESS))
    assert address.status_code == 201, address.json
    attributes = address.json["data"]["attributes"]
    assert attributes["country_code"] == "GB" and attributes["full_name"] == "Ada Lovelace"
    entry = api(
        "POST",
        "/api/customer_addresses?include=address",
        tenant.admin,
        doc(
            "customer_addresses",
            {},
            {
                "customer": ref("customers", customer.public_id),
                "address": ref("addresses", address.json["data"]["id"]),
            },
        ),
    )
    assert entry.status_code == 201, entry.json
    assert entry.json["data"]["attributes"]["customer_email"] == customer.email
    assert entry.json["data"]["attributes"]["name"].startswith("Ada Lovelace, 12 St James's Square")
    book = api("GET", f"/api/customers/{customer.public_id}/customer_addresses", tenant.admin).json
    assert book["meta"]["record_count"] == 1
    again = api(
        "POST",
        "/api/customer_addresses",
        tenant.admin,
        doc(
            "customer_addresses",
            {},
            {
                "customer": ref("customers", customer.public_id),
                "address": ref("addresses", address.json["data"]["id"]),
            },
        ),
    )
    assert again.status_code == 422  # an address sits in one book only
    removed = api("DELETE", f"/api/customer_addresses/{entry.json['data']['id']}", tenant.admin)
    assert removed.status_code == 204
    assert count(CustomerAddress) == 0 and count(Address) == 0


def test_deleting_an_unlinked_address_is_audited(api, tenant):
    """The API's address delete records who deleted it, as every other delete does (it used to record nothing)."""
    address = api("POST", "/api/addresses", tenant.admin, doc("addresses", ADDRESS)).json["data"]["id"]
    assert api("DELETE", f"/api/addresses/{address}", tenant.admin).status_code == 204
    assert count(Address) == 0
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.resource_id, event.actor_type) == ("address.destroy", address, "application")


def test_address_validation(api, tenant):
    for attributes, field in [
        ({**ADDRESS, "line_1": ""}, "line_1"),
        ({**ADDRESS, "country_code": "GBR"}, "country_code"),
        ({**ADDRESS, "business": True}, "company"),
        ({**ADDRESS, "lat": 91}, "lat"),
        ({k: v for k, v in ADDRESS.items() if k != "phone"}, "phone"),
    ]:
        response = api("POST", "/api/addresses", tenant.admin, doc("addresses", attributes))
        assert response.status_code == 422, field
        assert response.json["errors"][0]["source"]["pointer"] == f"/data/attributes/{field}"
    assert count(Address) == 0


def test_customer_token_manages_only_its_own_address_book(api, tenant):
    me = make_customer(tenant.org, password=PASSWORD)
    someone = make_customer(tenant.org)
    token = customer_token(tenant, me)
    address = api("POST", "/api/addresses", token, doc("addresses", ADDRESS)).json["data"]["id"]
    entry = api(
        "POST",
        "/api/customer_addresses",
        token,
        doc("customer_addresses", {}, {"address": ref("addresses", address)}),
    )
    assert entry.status_code == 201, entry.json
    assert entry.json["data"]["attributes"]["customer_email"] == me.email
    theirs = api("POST", "/api/addresses", tenant.admin, doc("addresses", ADDRESS)).json["data"]["id"]
    api(
        "POST",
        "/api/customer_addresses",
        tenant.admin,
        doc(
            "customer_addresses",
            {},
            {"customer": ref("customers", someone.public_id), "address": ref("addresses", theirs)},
        ),
    )
    assert api("GET", f"/api/addresses/{theirs}", token).status_code == 404
    assert (
        api(
            "PATCH", f"/api/addresses/{theirs}", token, doc("addresses", {"city": "X"}, id=theirs)
        ).status_code
        == 404
    )
    assert [a["id"] for a in api("GET", "/api/addresses", token).json["data"]] == [address]
    sneaky = api(
        "POST",
        "/api/customer_addresses",
        token,
        doc(
            "customer_addresses",
            {},
            {"customer": ref("customers", someone.public_id), "address": ref("addresses", address)},
        ),
    )
    assert sneaky.status_code == 422
    changed = api(
        "PATCH", f"/api/addresses/{address}", token, doc("addresses", {"city": "Paris"}, id=address)
    )
    assert changed.json["data"]["attributes"]["city"] == "Paris"


def test_orders_drive_customer_status(api, tenant):
    market = make_market(tenant.org, "shop")
    created = api(
        "POST",
        "/api/orders",
        tenant.admin,
        doc(
            "orders",
            {"customer_email": "First.Buyer@example.com", "currency_code": "eur", "total_amount_cents": 2500},
            {"market": ref("markets", market.public_id)},
        ),
    )
    assert created.status_code == 201, created.json
    order = created.json["data"]
    assert (
        order["attributes"]["status"] == "draft"
        and order["attributes"]["formatted_total_amount"] == "25.00 EUR"
    )
    customer_id = api("GET", f"/api/orders/{order['id']}/customer", tenant.admin).json["data"]["id"]
    placed = api(
        "PATCH", f"/api/orders/{order['id']}", tenant.admin, doc("orders", {"_place": True}, id=order["id"])
    )
    assert placed.json["data"]["attributes"]["status"] == "placed"
    customer = api("GET", f"/api/customers/{customer_id}", tenant.admin).json["data"]["attributes"]
    assert (customer["email"], customer["status"], customer["total_orders_count"]) == (
        "first.buyer@example.com",
        "acquired",
        1,
    )
    twice = api(
        "PATCH", f"/api/orders/{order['id']}", tenant.admin, doc("orders", {"_place": True}, id=order["id"])
    )
    assert twice.status_code == 422


def test_amounts_beyond_32_bits_are_kept(api, tenant):
    """The largest amount validation accepts (10¹³ cents: ordinary for IDR or VND) is stored and read back."""
    market = make_market(tenant.org, "shop")
    created = api(
        "POST",
        "/api/orders",
        tenant.admin,
        doc(
            "orders",
            {"customer_email": "big@example.com", "currency_code": "IDR", "total_amount_cents": 10**13},
            {"market": ref("markets", market.public_id)},
        ),
    )
    assert created.status_code == 201, created.json
    order = api("GET", f"/api/orders/{created.json['data']['id']}", tenant.admin).json["data"]
    assert order["attributes"]["total_amount_cents"] == 10**13


def test_orders_refusals(api, tenant, other):
    vip = make_group(tenant.org)
    private = make_market(tenant.org, "vip", group=vip)
    outsider = make_customer(tenant.org)
    response = api(
        "POST",
        "/api/orders",
        tenant.admin,
        doc(
            "orders",
            {"currency_code": "EUR"},
            {"market": ref("markets", private.public_id), "customer": ref("customers", outsider.public_id)},
        ),
    )
    assert (
        response.status_code == 422
        and response.json["errors"][0]["source"]["pointer"] == "/data/relationships/market"
    )
    foreign_market = make_market(other.org, "x")
    response = api(
        "POST",
        "/api/orders",
        tenant.admin,
        doc("orders", {"currency_code": "EUR"}, {"market": ref("markets", foreign_market.public_id)}),
    )
    assert response.status_code == 422
    response = api(
        "POST",
        "/api/orders",
        tenant.admin,
        doc(
            "orders",
            {"currency_code": "EUR", "status": "placed"},
            {"market": ref("markets", private.public_id)},
        ),
    )
    assert response.status_code == 400
    assert count(Order) == 0


def test_customer_reads_only_own_orders(api, tenant):
    me = make_customer(tenant.org, password=PASSWORD)
    mine = make_order(tenant.org, me)
    theirs = make_order(tenant.org, make_customer(tenant.org))
    token = customer_token(tenant, me)
    assert [o["id"] for o in api("GET", "/api/orders", token).json["data"]] == [mine.public_id]
    assert api("GET", f"/api/orders/{theirs.public_id}", token).status_code == 404
    assert (
        api(
            "PATCH",
            f"/api/orders/{mine.public_id}",
            token,
            doc("orders", {"_place": True}, id=mine.public_id),
        ).status_code
        == 401
    )


def test_numeric_filters_refuse_non_numbers(api, tenant):
    for value in ("", "abc", "nan", "inf"):
        response = api("GET", f"/api/addresses?filter[q][lng_eq]={value}", tenant.admin)
        assert response.status_code == 400, value
        assert response.json["errors"][0]["code"] == "INVALID_FILTER_VALUE"
