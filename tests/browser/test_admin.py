"""The admin area in a real browser: two-factor sign-in, search as you type, inline and bulk group assignment,
anonymization request and cancel, approving a shopper's deletion request, and axe-core on every page."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from portal import db
from portal.services import deletion_requests, staff
from portal.services.audit import SYSTEM, Actor
from tests.browser.conftest import axe_violations
from tests.factories import PASSWORD, make_customer, make_group, make_org, make_user, unique

pytestmark = pytest.mark.browser


@pytest.fixture()
def world(live_server):
    with live_server.data():
        org = make_org(unique("adm"))
        user = make_user(org, "admin")
        secret = staff.new_totp_secret()
        # The previous step's code (still accepted): the sign-in below uses the current one, and a code signs in once.
        staff.enable_totp(SYSTEM, user, secret, pyotp.TOTP(secret).at(time.time() - 30))
        vip = make_group(org, "VIP")
        people = [
            make_customer(org, f"{name}-{unique('c')}@example.com") for name in ("zoe", "zack", "yan", "anna")
        ]
        asker = make_customer(org, f"asker-{unique('c')}@example.com")
        deletion = deletion_requests.create(Actor.of_customer(asker), org, asker)
        data = {
            "slug": org.slug,
            "email": user.email,
            "secret": user.totp_secret,
            "people": {c.email.split("-")[0]: (c.public_id, c.email) for c in people},
            "group": vip.public_id,
            "asker": asker.email,
            "deletion": deletion.public_id,
        }
        db.session.commit()
        db.session.remove()
    return data


def sign_in(page, base, world):
    page.goto(f"{base}/admin/login")
    page.get_by_label("Email").fill(world["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/login/code"))
    page.get_by_label("Authentication code").fill(pyotp.TOTP(world["secret"]).now())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(rf"/admin/{world['slug']}/$"))


def test_admin_end_to_end(live_server, page, world):
    base, slug = live_server.url, world["slug"]
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, base, world)
    assert axe_violations(page) == []

    # Search as you type: results swap in, the URL follows, back works.
    page.goto(f"{base}/admin/{slug}/customers")
    page.get_by_label("Search").press_sequentially("za", delay=50)
    page.wait_for_url(re.compile(r"q=za"))
    rows = page.locator("#results tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1 and "zack" in rows.first.inner_text()
    assert axe_violations(page) == []

    # Bulk assignment: select two, see the count, confirm.
    page.get_by_label("Search").fill("")
    zoe_id, zoe_email = world["people"]["zoe"]
    yan_id, _ = world["people"]["yan"]
    page.locator(f"#sel-{yan_id}").wait_for()
    page.locator(f"#sel-{zoe_id}").check()
    page.locator(f"#sel-{yan_id}").check()
    page.locator("#bulk-group").select_option(label="VIP")
    page.get_by_role("button", name="Assign selected…").click()
    assert "2" in page.locator("#bulk-summary strong").first.inner_text()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Assign 2 to VIP").click()
    page.wait_for_url(re.compile(rf"/admin/{slug}/customers"))
    assert "2 customers updated" in page.content()

    # Inline group assignment on the customer page (htmx swaps the panel).
    anna_id, _ = world["people"]["anna"]
    page.goto(f"{base}/admin/{slug}/customers/{anna_id}")
    page.locator("#group_panel select").select_option(label="VIP")
    page.get_by_role("button", name="Save group").click()
    page.locator("#group-current", has_text="VIP").wait_for()
    assert axe_violations(page) == []

    # Request, then cancel, an anonymization (the sign-in just happened: no re-authentication needed).
    page.get_by_role("link", name="Request anonymization…").click()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Request anonymization").click()
    page.locator("#anonymization", has_text="Anonymization requested").wait_for()
    page.get_by_role("link", name="Cancel anonymization…").click()
    page.get_by_role("button", name="Cancel anonymization").click()
    page.locator("#anonymization", has_text="Anonymization cancelled").wait_for()
    assert axe_violations(page) == []

    # Approve the shopper's deletion request.
    page.goto(f"{base}/admin/{slug}/privacy")
    assert axe_violations(page) == []
    page.locator(f"#deletion-{world['deletion']}").get_by_text("Approve (anonymize)…").click()
    page.locator(f"#deletion-{world['deletion']}").get_by_role("button", name="Yes, anonymize").click()
    page.wait_for_url(re.compile(rf"/admin/{slug}/privacy$"))
    assert "anonymization is requested" in page.content()
    page.goto(f"{base}/admin/{slug}/privacy?state=requested")
    assert world["asker"] in page.content()

    for path in (
        "/",
        "/groups",
        f"/groups/{world['group']}",
        "/groups/new",
        "/markets",
        "/audit",
        "/settings",
        f"/customers/{zoe_id}/edit",
        "/reauth",
    ):
        page.goto(f"{base}/admin/{slug}{path}")
        assert axe_violations(page) == [], path
    for path in ("/admin/", "/admin/account/two-factor"):
        page.goto(base + path)
        assert axe_violations(page) == [], path
    assert errors == []


def test_login_pages_are_accessible(live_server, page):
    page.goto(f"{live_server.url}/admin/login")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.locator(".field-error").first.wait_for()
    assert axe_violations(page) == []
