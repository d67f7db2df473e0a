"""Issue 13 #1 and issue 12 #7 in a real browser, with the demo's storefront origin registered: one session cookie
per context (shopper, staff), none from static files, so flashes survive redirects, a password change keeps you signed
in, and admin forms pass their CSRF check; the staff cookie stays Lax."""

from __future__ import annotations

from collections import Counter

import pyotp
import pytest
from sqlalchemy import select

from portal import db
from portal.models import Organization
from tests.browser.demo import new_page, real_errors, shop_sign_in, shot, staff_sign_in
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser
NEW = "an entirely new passphrase"


def one_cookie_per_name(page) -> list[dict]:
    jar = page.context.cookies()
    assert [n for n, count in Counter(c["name"] for c in jar).items() if count > 1] == [], jar
    return jar


def test_shopper_keeps_one_cookie_flashes_and_session_across_a_password_change(chromium, demo):
    page = new_page(chromium)
    shop_sign_in(page, demo, demo["people"][0][1])
    page.get_by_role("link", name="Password").click()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("Repeat the new password").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Your password is changed").wait_for()
    shot(page, "password-changed")
    page.get_by_role("link", name="Profile", exact=True).click()
    page.get_by_role("heading", name="Profile", exact=True).wait_for()  # still signed in
    page.goto(demo["base"] + "/")  # a page without an org sets no second shopper cookie
    page.goto(f"{demo['base']}/{demo['slug']}/account/addresses")
    page.get_by_role("heading", name="Addresses").wait_for()
    (cookie,) = [c for c in one_cookie_per_name(page) if c["name"] == "shop-embed-session"]
    assert cookie["sameSite"] == "None" and cookie["secure"] and cookie.get("partitionKey")
    assert real_errors(page) == []
    page.context.close()


def test_staff_keep_one_lax_cookie_and_forms_work_with_a_storefront_origin(chromium, demo):
    page = new_page(chromium)
    staff_sign_in(page, demo)
    slug = demo["slug"]
    for round_ in range(3):  # at random before the fix: repeat the form a few times
        page.goto(f"{demo['base']}/admin/{slug}/groups/new")
        page.get_by_label("Name").fill(f"Loyal {round_}")
        page.get_by_label("Code").fill(f"loyal-{round_}")
        page.get_by_role("button", name="Save").click()
        page.get_by_text(f"Group Loyal {round_} created.").wait_for()
    shot(page, "group-created")
    # A shopper session in the same browser does not disturb the staff one, nor the reverse.
    shop_sign_in(page, demo, demo["people"][1][1])
    page.goto(f"{demo['base']}/admin/{slug}/groups")
    page.get_by_role("heading", name="Groups").wait_for()
    jar = one_cookie_per_name(page)
    staff = [c for c in jar if c["name"] == "session"]
    assert len(staff) == 1 and staff[0]["sameSite"] == "Lax" and not staff[0].get("partitionKey")
    assert real_errors(page) == []
    page.context.close()


def test_two_factor_enrolment_works_for_an_org_with_a_storefront_origin(chromium, live_server, demo):
    """Org pages and the enrolment page (no org) share the one staff cookie, so the candidate secret survives."""
    with live_server.data():
        org = db.session.scalar(select(Organization).where(Organization.slug == demo["slug"]))
        org.require_admin_2fa = True
        email = make_user(org, "admin").email
        db.session.commit()
    page = new_page(chromium)
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers")  # an org page first, then the sign-in
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Set up two-factor authentication").wait_for()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.get_by_role("heading", name="Two-factor authentication is on").wait_for()
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers")
    page.get_by_role("heading", name="Customers").wait_for()
    shot(page, "totp-enrolled")
    assert real_errors(page) == []
    page.context.close()
