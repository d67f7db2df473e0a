"""Issue 13 items 8–10 and Italian in a real browser at phone width (390 px): long values wrap instead of widening
the page, the language switcher (a plain form) works, and axe finds nothing on the
touched pages in either language. Screenshots go to /tmp for a human look."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from portal import db
from portal.services import addresses, orders
from portal.services.audit import SYSTEM
from tests.browser.conftest import axe_violations
from tests.factories import PASSWORD, make_customer, make_order, make_org

pytestmark = pytest.mark.browser

SHOTS = Path(tempfile.gettempdir())
LONG_WORD = "Llanfairpwllgwyngyll" * 12  # 240 letters, no break opportunity


def _no_horizontal_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


@pytest.fixture()
def phone(chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def test_long_values_wrap_and_italian_switches_at_390px(live_server, page, phone):
    with live_server.data():
        org = make_org()
        shopper = make_customer(org, "ada@example.com", password=PASSWORD)
        address = {"first_name": LONG_WORD, "last_name": "Lovelace", "line_1": LONG_WORD, "city": "London"}
        addresses.add_to_address_book(
            SYSTEM, org, shopper, {**address, "country_code": "GB", "phone": "+44 1"}
        )
        order = make_order(org, shopper, placed=False, total_amount_cents=4200)
        orders.add_line_item(org, order, {"name": LONG_WORD, "quantity": 3, "unit_amount_cents": 1400})
        orders.place_order(SYSTEM, org, order)
        db.session.commit()
        slug, order_id = org.slug, order.public_id
    base = f"{live_server.url}/{slug}/account"
    for browser, width in ((phone, 390), (page, 1280)):
        browser.goto(f"{base}/login")
        browser.get_by_label("Email", exact=True).fill("ada@example.com")
        browser.get_by_label("Password", exact=True).fill(PASSWORD)
        browser.get_by_role("button", name="Sign in", exact=True).click()
        browser.get_by_role("heading", name="Hello").wait_for()
        for path in ("/addresses", f"/orders/{order_id}", "/orders", "/security"):
            browser.goto(base + path)
            if width == 390:
                _no_horizontal_scroll(browser)
            assert axe_violations(browser) == [], path
        browser.screenshot(path=SHOTS / f"polish-security-en-{width}.png", full_page=True)

    phone.goto(f"{base}/addresses")
    phone.screenshot(path=SHOTS / "polish-addresses-en-390.png", full_page=True)
    phone.get_by_role("button", name="Italiano").click()  # a plain form post (no script involved)
    phone.get_by_role("heading", name="Indirizzi").wait_for()
    assert phone.get_attribute("html", "lang") == "it"
    for path in ("/addresses", f"/orders/{order_id}", "/orders", "/security", "/", "/privacy", "/profile"):
        phone.goto(base + path)
        _no_horizontal_scroll(phone)
        assert axe_violations(phone) == [], path
    phone.goto(f"{base}/orders/{order_id}")
    phone.get_by_role("heading", name="Cosa hai acquistato").wait_for()
    assert "42,00 €" in phone.inner_text("main").replace("\xa0", " ")
    phone.screenshot(path=SHOTS / "polish-order-it-390.png", full_page=True)
    phone.goto(f"{base}/addresses")
    phone.screenshot(path=SHOTS / "polish-addresses-it-390.png", full_page=True)
    phone.get_by_role("button", name="English").click()
    phone.get_by_role("heading", name="Addresses").wait_for()
