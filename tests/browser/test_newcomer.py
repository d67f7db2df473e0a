"""A newcomer's walk through the demo in one browser (issue: newcomer walk): both areas in one context, the login
pages' spacing and background at phone width."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.models import Organization
from tests.browser.demo import new_page, real_errors, shop_sign_in, shot, staff_sign_in
from tests.factories import make_application, make_customer

pytestmark = pytest.mark.browser


def test_staff_sign_in_after_a_shopper_signed_in_in_the_same_browser(chromium, demo):
    page = new_page(chromium)
    shop_sign_in(page, demo, demo["people"][0][1])
    staff_sign_in(page, demo)
    page.get_by_role("heading", name="Customers by status").wait_for()
    page.goto(f"{demo['base']}/{demo['slug']}/account/")
    page.get_by_role("heading", name="Hello").wait_for()  # the shopper is still signed in
    assert real_errors(page) == []
    page.context.close()


@pytest.mark.parametrize("path", ["/admin/login", "/{slug}/account/login"])
@pytest.mark.parametrize("width", [1280, 390])
def test_login_pages_space_the_button_from_the_other_ways_and_paint_to_the_bottom(
    chromium, demo, path, width
):
    page = new_page(chromium, width)
    base = demo["base"].replace("127.0.0.1", "localhost")  # a host name: WebAuthn refuses IP addresses
    page.goto(base + path.format(slug=demo["slug"]))
    page.locator("[data-passkey-sign-in]").first.wait_for()  # shown by passkeys.js: the box's final place
    button = page.locator("form button[type=submit]", has_text="Sign in").bounding_box()
    box = page.locator("main .card").first.bounding_box()
    assert box["y"] - (button["y"] + button["height"]) >= 16, (button, box)
    painted = page.evaluate("() => document.body.getBoundingClientRect().bottom")
    assert painted >= page.viewport_size["height"], (
        painted
    )  # the body's background reaches the window's bottom
    shot(page, "login-" + path.strip("/").replace("/", "-").replace("{slug}", "shop"))
    page.context.close()


def test_no_passkey_button_where_webauthn_cannot_work(chromium, demo):
    """The demo's portal is http://127.0.0.1: WebAuthn refuses an IP address, so a passkey button would always fail."""
    page = new_page(chromium)
    page.goto(f"{demo['base']}/{demo['slug']}/account/login")
    page.get_by_role("heading", name="Other ways to sign in").wait_for()
    page.wait_for_load_state("load")  # passkeys.js has run
    assert not page.get_by_role("button", name="Sign in with a passkey").is_visible()
    page.goto(f"{demo['base']}/admin/login")
    page.wait_for_load_state("load")
    assert not page.get_by_role("button", name="Sign in with a passkey").is_visible()
    page.context.close()


@pytest.mark.parametrize("who", ["admin", "viewer"])
def test_admin_pages_fit_a_phone(chromium, live_server, demo, who):
    """Tables scroll in their own region and a long email in a title wraps: the page itself never scrolls sideways."""
    with live_server.data():
        org = db.session.scalar(select(Organization).where(Organization.slug == demo["slug"]))
        long_one = make_customer(org, "a.very.long.address.for.a.title@subdomain.example.com").public_id
        make_application(org, "integration")  # a row of actions far right in the applications' scrolled table
        db.session.commit()
    page = new_page(chromium, 390)
    staff_sign_in(page, demo, None if who == "admin" else demo["viewer"])
    admin = f"{demo['base']}/admin/{demo['slug']}"
    for path in ("/", f"/customers/{long_one}", "/settings"):
        page.goto(admin + path)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        shot(page, f"phone-{who}-{path.strip('/').split('/')[0] or 'home'}")
        assert width <= 390, (path, width)
    if who == "admin":  # the number field looks like the others
        delay = page.get_by_label("Anonymization delay").bounding_box()["height"]
        assert delay == page.get_by_label("Organization name").bounding_box()["height"]
    assert real_errors(page) == []
    page.context.close()


def test_settings_labels_reach_their_own_fields(chromium, demo):
    """The settings page holds three forms; "Name" and "Role" of a new application are its own fields, not the
    organization's name or the invitation's role (one id each)."""
    page = new_page(chromium)
    staff_sign_in(page, demo)
    page.goto(f"{demo['base']}/admin/{demo['slug']}/settings")
    duplicates = page.evaluate(
        "() => { const seen = {}; document.querySelectorAll('[id]:not([type=hidden])')"
        ".forEach(e => { seen[e.id] = (seen[e.id] || 0) + 1; }); return Object.keys(seen).filter(k => seen[k] > 1); }"
    )
    assert duplicates == []
    page.get_by_label("Name", exact=True).fill("Newcomer's integration")
    page.get_by_label("Role (integrations)").select_option("admin")
    page.get_by_role("button", name="Create application").click()
    page.get_by_role("cell", name="Newcomer's integration", exact=True).wait_for()
    assert real_errors(page) == []
    page.context.close()
