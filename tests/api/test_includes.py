"""`include` follows any relationship path the registry knows (issue 15 item 10), validated against it."""

from __future__ import annotations

import pytest

from portal.api.resources import REGISTRY
from portal.services import addresses
from portal.services.audit import SYSTEM
from tests.api.conftest import customer_token
from tests.factories import PASSWORD, make_customer, make_group, make_market, make_order

ADDRESS = {
    "first_name": "A",
    "last_name": "B",
    "line_1": "1 Road",
    "city": "Rome",
    "country_code": "IT",
    "phone": "1",
}


def included(response) -> set[tuple[str, str]]:
    assert response.status_code == 200, response.json
    return {(item["type"], item["id"]) for item in response.json.get("included", [])}


def test_nested_paths(api, tenant):
    vip = make_group(tenant.org)
    market = make_market(tenant.org, "vip", group=vip)
    shopper = make_customer(tenant.org, group=vip)
    order = make_order(tenant.org, shopper, market=market)
    entry = addresses.add_to_address_book(SYSTEM, tenant.org, shopper, ADDRESS)
    got = included(api("GET", f"/api/orders/{order.public_id}?include=market.customer_group", tenant.admin))
    assert got == {("markets", market.public_id), ("customer_groups", vip.public_id)}
    got = included(api("GET", "/api/customer_addresses?include=customer,address", tenant.admin))
    assert got == {("customers", shopper.public_id), ("addresses", entry.address.public_id)}
    got = included(
        api("GET", f"/api/customers/{shopper.public_id}?include=customer_group.markets", tenant.admin)
    )
    assert got == {("customer_groups", vip.public_id), ("markets", market.public_id)}
    got = included(api("GET", f"/api/customers/{shopper.public_id}?include=orders.market", tenant.admin))
    assert got == {("orders", order.public_id), ("markets", market.public_id)}
    body = api("GET", "/api/customer_groups?include=customers", tenant.admin).json
    assert body["data"][0]["relationships"]["customers"]["data"] == [
        {"type": "customers", "id": shopper.public_id}
    ]


def test_a_to_many_include_takes_the_first_25_per_parent(api, tenant):
    group = make_group(tenant.org)
    members = [make_customer(tenant.org, group=group) for _ in range(27)]
    body = api("GET", f"/api/customer_groups/{group.public_id}?include=customers", tenant.admin).json
    linkage = body["data"]["relationships"]["customers"]["data"]
    assert [item["id"] for item in linkage] == [m.public_id for m in members[:25]]
    listed = api(
        "GET", f"/api/customer_groups/{group.public_id}/customers?page[size]=25&page[number]=2", tenant.admin
    )
    assert [item["id"] for item in listed.json["data"]] == [m.public_id for m in members[25:]]


def test_includes_keep_the_tokens_visibility(api, tenant):
    group = make_group(tenant.org)
    me = make_customer(tenant.org, password=PASSWORD, group=group)
    make_customer(tenant.org, group=group)
    got = included(api("GET", "/api/customer_groups?include=customers", customer_token(tenant, me)))
    assert got == {("customers", me.public_id)}


@pytest.mark.parametrize(
    "path",
    [
        "orders.nothing",
        "nothing",
        "orders.market.customer_group.customers",
        "customer_group..markets",
        "orders.",
    ],
)
def test_unknown_or_too_deep_paths_are_invalid_include(api, tenant, path):
    response = api("GET", f"/api/customers?include={path}", tenant.admin)
    assert response.status_code == 400
    error = response.json["errors"][0]
    assert error["code"] == "INVALID_INCLUDE" and error["source"]["parameter"] == "include"


@pytest.mark.parametrize("resource", sorted(REGISTRY))
def test_every_registry_relationship_is_includable(api, tenant, resource):
    rels = ",".join(rel.name for rel in REGISTRY[resource].rels)
    if rels:
        assert api("GET", f"/api/{resource}?include={rels}", tenant.admin).status_code == 200
