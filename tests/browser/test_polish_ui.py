"""Issue 13's remaining UI in a real browser, at 1280 and 390 px: success toasts (page loads and htmx swaps),
empty states with their next step, focus after an htmx swap, the admin customer list as cards on a phone, resending
the verification email, the CSV export's progress; axe-core and the CSP console stay clean throughout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal import db
from tests.browser.conftest import axe_violations
from tests.browser.demo import (
    ADDRESS,
    WIDTHS,
    account_link,
    new_page,
    real_errors,
    shop_sign_in,
    shot,
    staff_sign_in,
)
from tests.factories import PASSWORD, make_customer, make_org, make_user, unique

pytestmark = pytest.mark.browser


def _no_horizontal_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


@pytest.fixture()
def newcomer(live_server, demo):
    """A shopper with no address and no order, whose email is not verified (like the demo's shoppers)."""
    with live_server.data():
        from portal.services import orgs

        org = orgs.get_org(demo["slug"])
        shopper = make_customer(org, f"new-{unique('c')}@example.com", password=PASSWORD)
        db.session.commit()
        email = shopper.email
        db.session.remove()
    return email


@pytest.mark.parametrize("width", WIDTHS)
def test_shopper_empty_states_toasts_and_resend_verification(chromium, demo, newcomer, width):
    page = new_page(chromium, width)
    shop_sign_in(page, demo, newcomer)
    account_link(page, "Orders")
    empty = page.locator(".empty")
    empty.get_by_role("heading", name="You have no orders yet").wait_for()
    store = empty.get_by_role("link", name="Go to the store")
    assert store.get_attribute("href") == "http://localhost:5001"
    assert axe_violations(page) == []

    account_link(page, "Addresses")
    page.locator(".empty").get_by_role("heading", name="Your address book is empty").wait_for()
    assert axe_violations(page) == []
    shot(page, "polish-empty-addresses")
    page.get_by_role("link", name="Add your first address").click()
    assert page.evaluate("location.hash") == "#add-address"
    form = page.locator("form[aria-labelledby=add-address]")
    for label, value in {"First name": "Ada", "Last name": "Lovelace", **_address_labels()}.items():
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button", name="Add address").click()  # htmx: the toast arrives out of band
    toast = page.locator("#toasts .toast-success", has_text="Address added.")
    toast.wait_for()
    assert page.locator("#toasts").get_attribute("role") == "status"
    assert page.locator(".empty").count() == 0
    # Focus moves into the swapped address book (the submit button it held is gone) once htmx has settled.
    page.wait_for_function("() => document.getElementById('address-book').contains(document.activeElement)")
    if width == 390:
        _no_horizontal_scroll(page)
    assert axe_violations(page) == []
    shot(page, "polish-toast")
    toast.get_by_role("button", name="Dismiss").click()
    assert page.locator("#toasts .toast").count() == 0

    account_link(page, "Profile")
    page.get_by_text("Not yet").wait_for()
    page.get_by_role("button", name="Resend verification email").click()
    page.locator(
        "#toasts .toast-success", has_text=f"We've sent a confirmation link to {newcomer}."
    ).wait_for()
    assert axe_violations(page) == []
    shot(page, "polish-resend")
    assert real_errors(page) == []
    page.context.close()


def _address_labels() -> dict[str, str]:
    labels = {"Street address": "line_1", "City": "city", "Country code": "country_code", "Phone": "phone"}
    return {label: ADDRESS[key] for label, key in labels.items()}


@pytest.mark.parametrize("width", WIDTHS)
def test_admin_cards_focus_after_swap_and_empty_search(chromium, demo, width):
    page = new_page(chromium, width)
    staff_sign_in(page, demo)
    base = f"{demo['base']}/admin/{demo['slug']}"
    page.goto(f"{base}/customers")
    rows = page.locator("#results tbody tr")
    rows.first.wait_for()
    display = rows.first.evaluate("row => getComputedStyle(row).display")
    label = rows.first.locator("td[data-label=Status]").evaluate(
        "cell => getComputedStyle(cell, '::before').content"
    )
    if width == 390:
        assert display == "block" and label == '"Status"'  # one card per customer, each value named
        _no_horizontal_scroll(page)
    else:
        assert display == "table-row" and label in ("none", "normal")
    assert axe_violations(page) == []
    shot(page, "polish-customers")

    search = page.get_by_label("Search", exact=True)
    search.click()
    search.press_sequentially("nobody-at-all", delay=20)
    empty = page.locator("#results .empty")
    empty.get_by_role("heading", name="No customers match").wait_for()
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    assert page.evaluate("document.activeElement.id") == "q"  # typing keeps its caret: focus is not stolen
    assert axe_violations(page) == []
    empty.get_by_role("link", name="Clear search").click()
    page.wait_for_url(re.compile(r"/customers$"))
    rows.first.wait_for()

    page.goto(f"{base}/customers/{demo['people'][1][0]}")
    panel = page.locator("#group_panel")
    panel.get_by_label("Group").select_option(label="VIP")
    panel.get_by_role("button", name="Save group").click()
    page.get_by_text("Current: VIP").wait_for()
    # Focus moves once htmx has settled the swap (a moment after the new text shows): wait for it to leave <body>.
    page.wait_for_function(
        "() => document.activeElement && document.activeElement !== document.body", timeout=5000
    )
    focused = page.evaluate("[document.activeElement.tagName, document.activeElement.textContent]")
    assert focused == ["H2", "Group"]  # the swap replaced the button: focus lands on the panel's heading
    assert real_errors(page) == []
    page.context.close()


def test_admin_csv_export_shows_progress_and_downloads(chromium, demo):
    page = new_page(chromium, 1280)
    staff_sign_in(page, demo)
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    status = page.locator("#export-progress .export-status")
    status.filter(has_text=re.compile(r"Exported \d+ customers")).wait_for()
    assert download.value.suggested_filename == f"{demo['slug']}-customers.csv"
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert status.inner_text().startswith(f"Exported {len(lines) - 1} customers")
    assert axe_violations(page) == []
    assert real_errors(page) == []
    page.context.close()


@pytest.mark.parametrize("role", ["admin", "read_only"])
def test_admin_empty_states_offer_the_next_step(chromium, live_server, role):
    with live_server.data():
        org = make_org(unique("empty"))
        email = make_user(org, role).email
        slug = org.slug
        db.session.commit()
        db.session.remove()
    page = new_page(chromium, 390)
    page.goto(f"{live_server.url}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(rf"/admin/{slug}/$"))
    base = f"{live_server.url}/admin/{slug}"
    page.goto(f"{base}/groups")
    page.locator(".empty").get_by_role("heading", name="No groups yet").wait_for()
    assert page.get_by_role("link", name="Create a group").count() == (1 if role == "admin" else 0)
    assert axe_violations(page) == []
    page.goto(f"{base}/privacy")
    page.get_by_role("heading", name="No deletion requests to decide").wait_for()
    page.get_by_role("heading", name="No anonymization requests requested").wait_for()
    assert axe_violations(page) == []
    page.goto(f"{base}/audit?action=nothing.")
    page.get_by_role("heading", name="No events match these filters").wait_for()
    page.get_by_role("link", name="Clear filters").click()
    page.wait_for_url(re.compile(r"/audit$"))
    _no_horizontal_scroll(page)  # the events table scrolls in its own region
    assert axe_violations(page) == []
    shot(page, f"polish-empty-audit-{role}")
    assert real_errors(page) == []
    page.context.close()
