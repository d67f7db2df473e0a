"""Issue 13 #4 and #7 in a real browser, with the demo's storefront origin registered: an htmx request after the
session ended sends the whole page to the login page ("your session ended", `next` kept) instead of swapping the login
form into the content; a refused, failed or unsent htmx request says so in an aria-live region; and repeated swaps
cause no CSP violation in the console."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal import db
from portal.models import Customer, User
from portal.security import sessions
from tests.browser.conftest import axe_violations
from tests.browser.demo import WIDTHS, new_page, real_errors, shop_sign_in, shot, staff_sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def end_sessions(live_server, model, email: str) -> None:
    """What an idle timeout, "sign out everywhere" or a password change elsewhere does: the session row is revoked."""
    with live_server.data():
        sessions.revoke(db.session.scalar(select(model).where(model.email == email)))
        db.session.commit()


def test_shop_htmx_request_after_the_session_ended_goes_to_the_login_page(chromium, live_server, demo):
    page = new_page(chromium)
    email = demo["people"][0][1]
    shop_sign_in(page, demo, email)
    page.get_by_role("link", name="Addresses").click()
    for label, value in (
        ("First name", "Ada"),
        ("Last name", "Lovelace"),
        ("Street address", "1 St James's Sq"),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_label("City").fill("London")
    page.get_by_label("Country code").fill("GB")
    page.get_by_label("Phone").fill("+44 20 7946 0000")
    page.get_by_role("button", name="Add address").click()
    page.get_by_text("Address added.").wait_for()
    end_sessions(live_server, Customer, email)
    page.get_by_role("link", name="Edit address Ada Lovelace").click()  # an htmx GET
    page.wait_for_url(re.compile(r"/account/login\?next=.*addresses"))
    page.get_by_text("Your session ended. Sign in again to continue.").wait_for()
    assert page.locator("main h1").count() == 1  # a whole login page, not one inside the address book
    shot(page, "shop-session-ended")
    assert axe_violations(page) == []
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Addresses").wait_for()  # `next` kept: back where the shopper was
    page.context.close()


def test_admin_htmx_request_after_the_session_ended_goes_to_the_login_page(chromium, live_server, demo):
    page = new_page(chromium)
    staff_sign_in(page, demo)
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers")
    end_sessions(live_server, User, demo["admin"][0])
    page.get_by_label("Search").press_sequentially("a", delay=50)  # live search: an htmx GET
    page.wait_for_url(re.compile(r"/admin/login\?next=.*customers"))
    page.get_by_text("Your session ended. Sign in again to continue.").wait_for()
    assert page.get_by_role("heading", name="Sign in").count() == 1
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_refused_failed_and_unsent_htmx_requests_are_announced(chromium, demo, width):
    page = new_page(chromium, width)
    staff_sign_in(page, demo)
    customer_id = demo["people"][0][0]
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers/{customer_id}")
    alert = page.locator("#request-error")
    assert alert.get_attribute("role") == "alert" and alert.is_hidden()

    # 400: a stale CSRF token (e.g. after signing in again in another tab).
    page.locator("#group_panel input[name=csrf_token]").evaluate("input => { input.value = 'stale' }")
    page.locator("#group_panel select").select_option(label="VIP")
    page.get_by_role("button", name="Save group").click()
    alert.get_by_text("That request was refused. Reload the page and try again.").wait_for()
    shot(page, "request-refused")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Dismiss").click()
    assert alert.is_hidden()

    # 5xx from the server, then no network at all.
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers")
    page.route(re.compile(r"/customers\?q="), lambda route: route.fulfill(status=502, body="Bad gateway"))
    page.get_by_label("Search").press_sequentially("zz", delay=50)
    alert.get_by_text("Something went wrong on our side and nothing was changed.").wait_for()
    page.unroute(re.compile(r"/customers\?q="))
    page.context.set_offline(True)
    page.get_by_label("Search").fill("offline")
    alert.get_by_text("The server could not be reached.").wait_for()
    page.context.set_offline(False)

    # Repeated swaps (search as you type) and no CSP violation, nor any other script error.
    page.get_by_label("Search").fill("")
    for _round in range(3):
        page.get_by_label("Search").press_sequentially("ab", delay=60)
        page.get_by_label("Search").fill("")
    page.wait_for_timeout(500)
    assert alert.is_hidden()  # the next request that worked cleared the alert
    offline = re.compile(
        r"htmx:(afterRequest|sendError), |Failed to load resource: net::ERR_INTERNET_DISCONNECTED"
    )
    assert [e for e in real_errors(page) if not offline.match(e)] == []
    page.context.close()
