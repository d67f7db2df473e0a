"""Tags, staff notes and bulk tagging in a real browser (htmx swaps, the bulk form's selection), and the shopper's
newsletter consent, at 1280 and 390 px; axe and the console checked."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import axe_violations
from tests.browser.demo import WIDTHS, new_page, real_errors, shot, staff_sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", WIDTHS)
def test_tags_and_notes_on_the_customer_page(chromium, demo, width):
    page = new_page(chromium, width)
    staff_sign_in(page, demo)
    customer, _email = demo["people"][2]
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers/{customer}")
    page.get_by_label("Add a tag").fill("Bad Name")
    page.get_by_role("button", name="Add tag").click()
    page.locator("#tag-name-error").wait_for()
    assert "lowercase letters, digits and underscores" in page.locator("#tag-name-error").inner_text()
    page.get_by_label("Add a tag").fill("returns_often")
    page.get_by_role("button", name="Add tag").click()
    page.locator("#tags_panel .tag", has_text="returns_often").wait_for()
    page.get_by_label("New note").fill("<b>Not bold</b>\nSecond line")
    page.get_by_role("button", name="Add note").click()
    page.locator(".note-text").first.wait_for()
    assert page.locator(".note-text").first.inner_text() == "<b>Not bold</b>\nSecond line"
    assert page.locator(".note-text b").count() == 0
    shot(page, "customer-tags-notes")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Remove the tag returns_often").click()
    page.locator("#tags_panel .tag", has_text="returns_often").wait_for(state="detached")
    assert real_errors(page) == []
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_bulk_tag_uses_the_bulk_selection(chromium, demo, width):
    page = new_page(chromium, width)
    staff_sign_in(page, demo)
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers")
    (_a, _), (_b, _), (c, _), (d, _), *_rest = demo["people"]
    page.locator(f"#sel-{c}").check()
    page.locator(f"#sel-{d}").check()
    page.get_by_label("Tag for the selected customers").select_option(label="early_adopter")
    page.get_by_role("button", name="Tag selected…").click()
    page.locator("#bulk-summary").wait_for()
    assert "Add the tag early_adopter to 2 selected customers" in page.locator("#bulk-summary").inner_text()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Tag 2 with early_adopter").click()
    page.get_by_text("2 customers updated.").wait_for()
    page.wait_for_load_state()  # htmx (a deferred script) listens only once the page has loaded: slow when busy
    page.get_by_label("Tag", exact=True).select_option(label="early_adopter")
    page.wait_for_url(re.compile(r"tag="))
    rows = page.locator("#results tbody tr")
    for _ in range(150):  # the live search swaps #results once its request returns (slow on a busy machine)
        if rows.count() == 3:
            break
        page.wait_for_timeout(100)
    assert rows.count() == 3
    shot(page, "customers-by-tag")
    assert axe_violations(page) == []
    assert real_errors(page) == []
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_newsletter_consent_on_the_privacy_page(chromium, demo, width):
    page = new_page(chromium, width)
    _id, email = demo["people"][3]
    page.goto(f"{demo['base']}/{demo['slug']}/account/login")
    page.fill("#login-form input[name=email]", email)
    page.fill("#login-form input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/account/$"))
    page.goto(f"{demo['base']}/{demo['slug']}/account/privacy")
    page.get_by_role("button", name="Subscribe to the newsletter").click()
    page.get_by_text("You agreed to receive the newsletter on").wait_for()
    shot(page, "privacy-newsletter")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_text("You are not subscribed").wait_for()
    assert real_errors(page) == []
    page.context.close()
