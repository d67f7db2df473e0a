"""Issue 13 #6 in a real browser: signing out of the sample storefront (another site) ends both portal sessions: the
hosted sign-in's (top level, /oauth/logout, confirmed by the shopper) and the one inside its iframe (the documented
postMessage hand-off, which the portal obeys only from the org's origins)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal import db
from portal.models import LoginSession
from tests.browser.conftest import axe_violations
from tests.browser.demo import new_page, shot
from tests.browser.storefronts import serve_storefront, sign_in_through_the_store
from tests.factories import PASSWORD, make_application, make_customer, make_org

pytestmark = pytest.mark.browser


def live_sessions(live_server, customer_id: int) -> int:
    with live_server.data():
        return len(
            db.session.scalars(
                select(LoginSession).where(
                    LoginSession.principal_type == "customer",
                    LoginSession.principal_id == customer_id,
                    LoginSession.revoked_at.is_(None),
                )
            ).all()
        )


@pytest.fixture()
def shop(live_server):
    with live_server.data():
        org = make_org()
        customer = make_customer(org, password=PASSWORD)
        application, _ = make_application(org, "sales_channel")
        db.session.commit()
        data = {"slug": org.slug, "email": customer.email, "customer": customer.id, "org": org.id}
        ids = (org.id, application.id, org.slug, application.client_id)
    server, url = serve_storefront(live_server, *ids)
    yield {**data, "url": url}
    server.shutdown()


@pytest.mark.parametrize("width", [1280, 390])
def test_storefront_sign_out_ends_both_portal_sessions(chromium, live_server, shop, width):
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in_through_the_store(page, shop["url"], shop["email"], PASSWORD)
    frame = page.frame_locator("#portal")
    # the hosted sign-in's own session (top level, on the portal) and the frame's, opened with the store's token
    assert live_sessions(live_server, shop["customer"]) == 2

    page.get_by_role("link", name="Sign out").click()
    # the portal asks (a GET alone signs nobody out: any site could link there), at the top level
    page.get_by_role("heading", name=re.compile("Sign out of your account at")).wait_for()
    assert page.url.startswith(f"{live_server.url}/oauth/logout?")
    assert axe_violations(page) == []
    shot(page, "storefront-signout-confirm")
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.get_by_text("You are signed out of the store and of your account.").wait_for()
    frame.get_by_role("heading", name="Sign in", exact=True).wait_for()
    assert live_sessions(live_server, shop["customer"]) == 0  # the hosted sign-in's and the frame's
    shot(page, "storefront-signed-out")
    # signing in to the store again asks for the password: nobody is signed in on the portal any more
    page.goto(shop["url"] + "/")
    page.get_by_role("link", name="Sign in to the store").click()
    page.wait_for_url(lambda url: url.startswith(f"{live_server.url}/{shop['slug']}/account/login"))
    page.get_by_label("Password", exact=True).wait_for()
    context.close()


def test_a_logout_message_from_a_window_other_than_the_parent_is_ignored(chromium, live_server, shop):
    """A frame of the storefront's own origin (srcdoc) is not the parent: the portal frame ignores its message."""
    context = chromium.new_context()
    page = context.new_page()
    sign_in_through_the_store(page, shop["url"], shop["email"], PASSWORD)
    page.evaluate(
        """() => {
          const sibling = document.createElement("iframe");
          sibling.srcdoc = "<script>parent.frames.portal.postMessage({type: 'customer-portal:logout'}, '*')<\\/script>";
          document.body.appendChild(sibling);
        }"""
    )
    page.wait_for_timeout(1500)
    assert (
        live_sessions(live_server, shop["customer"]) == 2
    )  # the hosted sign-in's and the frame's: both alive
    assert page.frame_locator("#portal").get_by_role("heading", name="Hello").count() == 1
    context.close()


def test_storefront_header_at_phone_width_and_a_quiet_console(chromium, shop):
    """The sample store's name and its links never touch, and its pages ask for no missing favicon."""
    page = new_page(chromium, 390)
    sign_in_through_the_store(page, shop["url"], shop["email"], PASSWORD)  # the header's longest links
    name = page.locator("header strong").bounding_box()
    links = page.locator("header nav").bounding_box()
    apart = links["x"] - (name["x"] + name["width"]) >= 8 or links["y"] >= name["y"] + name["height"]
    assert apart, (name, links)
    assert page.errors == []
    page.context.close()
