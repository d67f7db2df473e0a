"""Issue 13 item 10 in the shopper area: devices as "Chrome on macOS", field names as words, relative times,
order history without carts (agreeing with the overview's count) and orders that show what was bought."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from portal import i18n
from portal.errors import Invalid, NotFound
from portal.models.orders import OrderStatus
from portal.services import orders
from portal.services.audit import SYSTEM
from portal.services.customers import update_customer
from tests.factories import make_order, make_org
from tests.shop.conftest import login

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def test_security_page_speaks_plainly(client, org, shopper):
    client.environ_base["HTTP_USER_AGENT"] = CHROME_MAC
    login(client, org, shopper.email)
    update_customer(SYSTEM, org, shopper, {"tax_exemption_code": "X1"})
    html = client.get(f"/{org.slug}/account/security").text
    assert "Chrome on macOS" in html and "AppleWebKit" not in html
    assert "Tax exemption code" in html and "tax_exemption_code" not in html
    last_active = re.search(r"<td><time datetime=\"[^\"]+\" title=\"[^\"]+ UTC\">([^<]+)</time></td>", html)
    assert last_active and re.fullmatch(r"(in )?\d+ seconds?( ago)?", last_active.group(1))


def test_times_and_devices_read_as_people_say_them(app):
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    with app.test_request_context("/x/account/login"):
        assert i18n.ago(now - timedelta(minutes=2), now).striptags() == "2 minutes ago"
        assert i18n.ago(now + timedelta(minutes=2), now).striptags() == "in 2 minutes"
        assert (
            i18n.duration(timedelta(seconds=120)) == "2 minutes"
            and i18n.duration(timedelta(days=1)) == "1 day"
        )
        assert i18n.device(CHROME_MAC) == "Chrome on macOS"
        assert i18n.device("") == i18n.device(None) == "Unknown browser"
        assert (
            i18n.field_labels(["email_verified_at", "customer_group_id"]) == "Email verified, Customer group"
        )
    with app.test_request_context("/x/account/login", headers={"Accept-Language": "it"}):
        assert i18n.ago(now - timedelta(minutes=2), now).striptags() == "2 minuti fa"


def test_order_history_leaves_out_carts_so_the_count_agrees(signed_in, org, shopper):
    placed = make_order(org, shopper)
    cart = make_order(org, shopper, placed=False)
    pending = make_order(org, shopper, placed=False)
    pending.status = OrderStatus.PENDING
    overview = signed_in.get(f"/{org.slug}/account/").text
    count = re.search(r'account/orders">(\d+)</a>', overview).group(1)
    listing = signed_in.get(f"/{org.slug}/account/orders").text
    shown = re.findall(r'account/orders/(\w+)"', listing)
    assert shown == [placed.public_id] and count == "1"
    for order in (cart, pending):
        assert signed_in.get(f"/{org.slug}/account/orders/{order.public_id}").status_code == 404


def test_orders_show_what_was_bought(signed_in, org, shopper):
    order = make_order(org, shopper, placed=False, total_amount_cents=4200)
    orders.add_line_item(
        org, order, {"sku_code": "MUG-1", "name": "Ceramic mug", "quantity": 2, "unit_amount_cents": 1400}
    )
    orders.add_line_item(org, order, {"name": "Breakfast tea", "unit_amount_cents": 1400})
    orders.place_order(SYSTEM, org, order)
    listing = signed_in.get(f"/{org.slug}/account/orders").text
    assert "2 × Ceramic mug, 1 × Breakfast tea" in listing
    detail = signed_in.get(f"/{org.slug}/account/orders/{order.public_id}").text
    assert "Code MUG-1" in detail and "€28.00" in detail and "€14.00" in detail
    italian = signed_in.get(
        f"/{org.slug}/account/orders/{order.public_id}", headers={"Accept-Language": "it"}
    )
    assert "Cosa hai acquistato" in italian.text and "28,00\xa0€" in italian.text


def test_line_items_are_checked_and_stay_in_their_organization(org, shopper):
    order = make_order(org, shopper, placed=False)
    for bad in (
        {"name": ""},
        {"name": "x" * 256},
        {"name": "Mug", "quantity": 0},
        {"name": "Mug", "quantity": "2"},
    ):
        with pytest.raises(Invalid):
            orders.add_line_item(org, order, bad)
    with pytest.raises(NotFound):
        orders.add_line_item(make_org(), order, {"name": "Mug"})
    orders.place_order(SYSTEM, org, order)
    with pytest.raises(Invalid):
        orders.add_line_item(org, order, {"name": "Mug"})
    assert order.line_items == []
