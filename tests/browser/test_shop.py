"""The shopper area in a real browser: the whole self-service journey with emailed links, axe-core on every page,
and the account area inside a storefront's iframe on another site (cookies, auto-height, token hand-off)."""

from __future__ import annotations

import json
import re
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import select

from portal import db
from portal.jobs import mailer
from tests.browser.conftest import axe_violations
from tests.browser.storefronts import serve_storefront, sign_in_through_the_store
from tests.factories import PASSWORD, make_application, make_customer, make_order, make_org

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a sturdy new password"
RESET_PASSWORD = "reset to something else"


def _link(live_server, to: str, path_part: str) -> str:
    """Deliver the outbox (files, as without SMTP) and return the newest link for `to` containing `path_part`."""
    with live_server.data():
        mailer.deliver_due(live_server.app)
    for path in sorted(
        Path(live_server.app.config["MAIL_DIR"]).glob("*.eml"), key=lambda p: p.stat().st_mtime
    )[::-1]:
        message = message_from_bytes(path.read_bytes())
        if message["To"] != to:
            continue
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        match = re.search(
            r"(https?://\S*" + re.escape(path_part) + r"\S*)", text.get_payload(decode=True).decode()
        )
        if match:
            return match.group(1)
    raise AssertionError(f"no email to {to} with {path_part}")


def _clean(page) -> None:
    assert axe_violations(page) == []


def test_self_service_journey(live_server, page):
    with live_server.data():
        org = make_org()
        db.session.commit()
        slug = org.slug
    base = f"{live_server.url}/{slug}/account"
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    email = "journey@example.com"

    page.goto(f"{base}/signup")
    _clean(page)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    _clean(page)

    page.goto(_link(live_server, email, "/verify-email/"))
    _clean(page)
    page.get_by_role("button", name="Confirm my email").click()
    page.get_by_text("Your email is verified").wait_for()
    _clean(page)

    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Hello").wait_for()
    _clean(page)

    page.get_by_role("link", name="Addresses").click()
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Street address").fill("1 Navy Yard")
    page.get_by_label("City").fill("Arlington")
    page.get_by_label("Country code").fill("US")
    page.get_by_label("Phone").fill("+1 555 0100")
    page.get_by_role("button", name="Add address").click()
    page.get_by_text("Address added.").wait_for()
    _clean(page)
    addresses_url = page.url
    page.get_by_role("link", name="Edit address Grace Hopper").click()
    page.get_by_role("button", name="Save address").wait_for()  # the entry became a form in place
    assert page.get_by_role("button", name="Add address").count() == 0
    page.get_by_label("City").fill("")
    page.get_by_role("button", name="Save address").click()
    page.locator("#city-error").wait_for()  # 422 swapped inline
    page.get_by_label("City").fill("Washington")
    page.get_by_role("button", name="Save address").click()
    page.get_by_text("Address saved.").wait_for()
    assert "Washington" in page.locator("#address-book").inner_text()
    assert page.url == addresses_url  # edited in place, no navigation

    page.get_by_role("link", name="Password").click()
    page.get_by_label("Current password").fill(NEW_PASSWORD)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the new password").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Your password is changed").wait_for()
    _clean(page)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Forgot your password?").click()
    _clean(page)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_role("button", name="Email me a link").click()
    page.get_by_text("If an account uses that address").wait_for()
    page.goto(_link(live_server, email, "/password/reset/"))
    _clean(page)
    page.get_by_label("New password", exact=True).fill(RESET_PASSWORD)
    page.get_by_label("Repeat the new password").fill(RESET_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(RESET_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Hello").wait_for()

    with live_server.data():
        from portal.models import Organization
        from portal.services import customers

        shop_org = db.session.scalar(select(Organization).where(Organization.slug == slug))
        order = make_order(shop_org, customers.find_by_email(shop_org, email), total_amount_cents=1999)
        db.session.commit()
        number = order.number
    for name in ("Orders", "Profile", "Security"):
        page.get_by_role("link", name=name, exact=True).click()
        page.get_by_role("heading", name=name, exact=True).wait_for()
        _clean(page)
    page.get_by_role("link", name="Orders", exact=True).click()
    page.get_by_role("link", name=f"#{number}").click()
    page.get_by_text("€19.99").first.wait_for()
    _clean(page)

    page.get_by_role("link", name="Profile", exact=True).click()
    page.get_by_label("New email").fill("moved@example.com")
    page.get_by_label("Current password").fill(RESET_PASSWORD)
    page.get_by_role("button", name="Send confirmation link").click()
    page.get_by_text("We've sent a confirmation link").wait_for()
    page.goto(_link(live_server, "moved@example.com", "/confirm-email/"))
    _clean(page)
    page.get_by_role("button", name="Use this address").click()
    page.get_by_text("Your email address is confirmed").wait_for()
    email = "moved@example.com"

    page.get_by_role("link", name="Privacy").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (JSON)").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["profile"]["email"] == email and data["addresses"][0]["city"] == "Washington"
    page.get_by_text("Request deletion…").click()
    page.get_by_role("button", name="Request deletion", exact=True).click()
    page.get_by_role("button", name="Withdraw my request").wait_for()
    _clean(page)
    # Chromium logs every 4xx response; the inline 422 is expected, anything else (CSP, JS) is not.
    assert [e for e in errors if "422 (UNPROCESSABLE ENTITY)" not in e] == []


def test_account_inside_a_storefront_iframe_on_another_site(live_server, chromium):
    with live_server.data():
        org = make_org()
        customer = make_customer(org, password=PASSWORD)
        application, _ = make_application(org, "sales_channel")
        db.session.commit()
        ids = (org.id, application.id, org.slug, application.client_id)
        email = customer.email
    shop_server, shop_url = serve_storefront(live_server, *ids)
    try:
        # 1. Sign in inside the frame: the portal's cookie must work in a cross-site iframe.
        context = chromium.new_context()
        page = context.new_page()
        page.goto(shop_url + "/")
        frame = page.frame_locator("#portal")
        frame.get_by_label("Email", exact=True).fill(email)
        frame.get_by_label("Password", exact=True).fill(PASSWORD)
        frame.get_by_role("button", name="Sign in", exact=True).click()
        frame.get_by_role("heading", name="Hello").wait_for()
        frame.get_by_role("link", name="Addresses").click()
        frame.get_by_role("heading", name="Addresses").wait_for()
        page.wait_for_function("() => document.getElementById('portal').style.height !== ''")
        context.close()

        # 2. Sign in with the store (the code flow); its token opens the portal session in the frame.
        context = chromium.new_context()
        page = context.new_page()
        sign_in_through_the_store(page, shop_url, email, PASSWORD)
        assert email in page.frame_locator("#portal").locator("main").inner_text()
        context.close()
    finally:
        shop_server.shutdown()
