"""`/relationships/<rel>` applies the same visibility rule as `/related` and `include` (issue 12, informational):
a customer token sees its order, not the order's market, so it must not learn the market's id either."""

from __future__ import annotations

import pytest

from tests.api.conftest import customer_token
from tests.factories import PASSWORD, make_customer, make_order


@pytest.mark.parametrize("route", ["relationships/market", "market", "?include=market"])
def test_a_hidden_to_one_target_is_hidden_on_every_route(api, tenant, route):
    shopper = make_customer(tenant.org, password=PASSWORD)
    order = make_order(tenant.org, shopper)
    separator = "" if route.startswith("?") else "/"
    response = api("GET", f"/api/orders/{order.public_id}{separator}{route}", customer_token(tenant, shopper))
    assert response.status_code == 200, response.json
    body = response.get_data(as_text=True)
    assert order.market.public_id not in body
    if not route.startswith("?"):
        assert response.json["data"] is None
    # The integration token, allowed to see markets, gets the linkage.
    allowed = api("GET", f"/api/orders/{order.public_id}{separator}{route}", tenant.admin)
    assert order.market.public_id in allowed.get_data(as_text=True)
