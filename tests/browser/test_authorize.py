"""The hosted sign-in in a real browser, 1280 and 390 px: the sample storefront (another site) sends the shopper to
/oauth/authorize, the org's branded login, the consent step, and back with a code that buys the token the store
hands to its account frame. The storefront holds no password field; the consent is asked once."""

from __future__ import annotations

import pytest

from portal import db
from tests.browser.conftest import axe_violations
from tests.browser.demo import shot
from tests.browser.storefronts import serve_storefront, sign_in_through_the_store
from tests.factories import PASSWORD, make_application, make_customer, make_org

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 390])
def test_storefront_authorize_login_consent_code_token(chromium, live_server, width):
    with live_server.data():
        org = make_org()
        customer = make_customer(org, password=PASSWORD)
        application, _ = make_application(org, "sales_channel")
        db.session.commit()
        ids = (org.id, application.id, org.slug, application.client_id)
        email = customer.email
    server, shop_url = serve_storefront(live_server, *ids)
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(shop_url + "/")
        assert page.locator("input[type=password]").count() == 0  # the store never sees a password
        page.get_by_role("link", name="Sign in to the store").click()
        page.wait_for_url(lambda url: url.startswith(f"{live_server.url}/{ids[2]}/account/login"))
        shot(page, "authorize-login")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name=f"Allow {application.name} to use your account?").wait_for()
        assert page.url.startswith(f"{live_server.url}/oauth/authorize?")
        assert axe_violations(page) == []
        shot(page, "authorize-consent")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{shop_url}/account")
        frame = page.frame_locator("#portal")
        frame.get_by_role("heading", name="Hello").wait_for()
        assert email in frame.locator("main").inner_text()
        shot(page, "authorize-back-in-the-store")
        # the second time, the consent is remembered: straight back with a new code
        page.goto(shop_url + "/signin")
        page.wait_for_url(f"{shop_url}/account")
        page.frame_locator("#portal").get_by_role("heading", name="Hello").wait_for()
        assert [e for e in errors if "Content Security Policy" in e] == []
    finally:
        context.close()
        server.shutdown()


def test_a_second_shopper_signs_in_with_the_helper(chromium, live_server):
    with live_server.data():
        org = make_org()
        customer = make_customer(org, password=PASSWORD)
        application, _ = make_application(org, "sales_channel")
        db.session.commit()
        ids = (org.id, application.id, org.slug, application.client_id)
        email = customer.email
    server, shop_url = serve_storefront(live_server, *ids)
    context = chromium.new_context()
    try:
        sign_in_through_the_store(context.new_page(), shop_url, email, PASSWORD)
    finally:
        context.close()
        server.shutdown()
