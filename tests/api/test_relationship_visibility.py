"""`/relationships/<rel>`, `/related` and `include` apply one visibility rule (issue 12, informational): a record
the caller may not see is hidden on every route, id included; one it may see is shown on every route."""

from __future__ import annotations

import pytest

from tests.api.conftest import customer_token
from tests.factories import PASSWORD, make_customer, make_group, make_market, make_order


@pytest.mark.parametrize("route", ["relationships/market", "market", "?include=market"])
def test_an_orders_market_is_shown_alike_on_every_route(api, tenant, route):
    """A customer reads the markets it may shop in and those of its own orders (issue 15 item 9): `include=market`
    is not silently null, and the three routes agree."""
    shopper = make_customer(tenant.org, password=PASSWORD)
    order = make_order(tenant.org, shopper)
    separator = "" if route.startswith("?") else "/"
    for token in (customer_token(tenant, shopper), tenant.admin):
        response = api("GET", f"/api/orders/{order.public_id}{separator}{route}", token)
        assert response.status_code == 200, response.json
        assert order.market.public_id in response.get_data(as_text=True)


@pytest.mark.parametrize("route", ["relationships/markets", "markets", "?include=markets"])
def test_a_hidden_target_is_hidden_on_every_route(api, tenant, route):
    """A customer sees its own group, but not a disabled private market of that group it never ordered in."""
    group = make_group(tenant.org)
    shopper = make_customer(tenant.org, password=PASSWORD, group=group)
    closed = make_market(tenant.org, "closed", group=group)
    closed.disabled_at = closed.created_at
    separator = "" if route.startswith("?") else "/"
    path = f"/api/customer_groups/{group.public_id}{separator}{route}"
    response = api("GET", path, customer_token(tenant, shopper))
    assert response.status_code == 200, response.json
    assert closed.public_id not in response.get_data(as_text=True)
    assert closed.public_id in api("GET", path, tenant.admin).get_data(as_text=True)
