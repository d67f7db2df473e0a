"""Issue 13: errors under a store's path (`/<org>/account/...`) wear that store's layout and brand colour, in the
shopper's language; an unknown store, or any other path, keeps the portal's plain error page."""

from __future__ import annotations

from portal import db
from tests.factories import make_customer, make_order, make_org


def test_unknown_page_under_a_store_is_the_stores_404(client, org):
    org.primary_color = "#aa3366"
    db.session.flush()
    response = client.get(f"/{org.slug}/account/no-such-page")
    assert response.status_code == 404
    body = response.text
    assert "Page not found" in body
    assert "--brand: #aa3366" in body and 'class="shop-header"' in body and org.name in body
    assert f'href="/{org.slug}/account/"' in body  # back to the store's account, not the portal's front page


def test_the_stores_404_speaks_the_shoppers_language(client, org):
    response = client.get(f"/{org.slug}/account/nope/deeper", headers={"Accept-Language": "it"})
    assert response.status_code == 404
    assert "Pagina non trovata" in response.text and 'lang="it"' in response.text


def test_another_stores_order_is_a_branded_404(signed_in, org):
    other = make_org()
    order = make_order(other, make_customer(other, "someone@example.com"))
    response = signed_in.get(f"/{org.slug}/account/orders/{order.public_id}")
    assert response.status_code == 404
    assert 'class="shop-header"' in response.text and "someone@example.com" not in response.text


def test_unknown_store_and_other_paths_keep_the_plain_404(client, org):
    for path in ("/no-such-store/account/orders", f"/{org.slug}/nothing", "/nothing"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Page not found" in response.text and 'class="shop-header"' not in response.text, path
