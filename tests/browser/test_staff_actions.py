"""Issue 13 #3 and #5 in a real browser, with the demo's storefront origin registered: a read-only member is shown
no write action (and a write refused by the guard says so), and irreversible actions ask first, in a confirm step that
works without JavaScript, with buttons that look destructive."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal import db
from portal.models import Customer, User
from portal.models.staff import Membership, Role
from tests.browser.conftest import axe_violations
from tests.browser.demo import (
    WIDTHS,
    account_link,
    new_page,
    real_errors,
    shop_sign_in,
    shot,
    staff_sign_in,
)

pytestmark = pytest.mark.browser
WRITE_ACTIONS = [
    ("link", "Edit"),
    ("button", "Send password-reset link"),
    ("button", "Save group"),
    ("button", "Assign selected…"),
    ("link", "New group"),
    ("button", "Save"),
    ("button", "Yes, anonymize"),
]
DANGER_RED = "rgb(179, 38, 30)"


@pytest.mark.parametrize("width", WIDTHS)
def test_read_only_member_sees_no_write_action(chromium, demo, width):
    page = new_page(chromium, width)
    staff_sign_in(page, demo, demo["viewer"])
    base = f"{demo['base']}/admin/{demo['slug']}"
    pages = (
        "/customers",
        f"/customers/{demo['people'][0][0]}",
        "/groups",
        f"/groups/{demo['group']}",
        "/markets",
    )
    for path in (*pages, "/privacy"):
        page.goto(base + path)
        for role, name in WRITE_ACTIONS:
            assert page.get_by_role(role, name=name, exact=True).count() == 0, (path, name)
        assert page.get_by_text(re.compile(r"(Delete|Approve|Reject|Request anonymization)")).count() == 0, (
            path
        )
        assert axe_violations(page) == [], path
    page.goto(base + f"/customers/{demo['people'][0][0]}")
    page.get_by_text("Current: no group").wait_for()  # what the role may see is still there
    shot(page, "read-only-customer")
    assert real_errors(page) == []
    page.context.close()


def test_a_write_refused_by_the_guard_says_why(chromium, live_server, demo):
    """The page was loaded while the member was an admin; the role changed since: htmx shows the refusal."""
    page = new_page(chromium)
    staff_sign_in(page, demo)
    page.goto(f"{demo['base']}/admin/{demo['slug']}/customers/{demo['people'][0][0]}")
    with live_server.data():
        user = db.session.scalar(select(User).where(User.email == demo["admin"][0]))
        db.session.scalar(select(Membership).where(Membership.user_id == user.id)).role = Role.READ_ONLY
        db.session.commit()
    page.locator("#group_panel select").select_option(label="VIP")
    page.get_by_role("button", name="Save group").click()
    page.locator("#request-error").get_by_text("You don’t have permission to do that.").wait_for()
    page.get_by_text("Current: no group").wait_for()
    page.context.close()


def _still_there(live_server, public_id: str) -> bool:
    with live_server.data():
        return db.session.scalar(select(Customer).where(Customer.public_id == public_id)) is not None


@pytest.mark.parametrize("width", WIDTHS)
def test_irreversible_admin_actions_ask_first_and_look_destructive(chromium, live_server, demo, width):
    page = new_page(chromium, width)
    staff_sign_in(page, demo)
    base = f"{demo['base']}/admin/{demo['slug']}"
    victim = demo["people"][1][0]
    page.goto(f"{base}/customers/{victim}")
    anonymize = page.get_by_role("link", name="Request anonymization…")
    assert anonymize.evaluate("a => getComputedStyle(a).backgroundColor") == DANGER_RED
    page.get_by_text("Delete customer…").click()
    page.get_by_text("and everything stored about them? This cannot be undone.").wait_for()
    assert _still_there(live_server, victim)  # opening the step did nothing yet
    shot(page, "confirm-delete-customer")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Yes, delete this customer").click()
    page.wait_for_url(re.compile(r"/customers$"))
    assert not _still_there(live_server, victim)

    page.goto(f"{base}/privacy")
    row = page.locator(f"#deletion-{demo['deletion']}")
    row.get_by_text("Approve (anonymize)…").click()
    row.get_by_text("After the waiting period their personal data is erased for good").wait_for()
    assert axe_violations(page) == []
    shot(page, "confirm-approve")
    row.get_by_role("button", name="Yes, anonymize").click()
    page.get_by_text("anonymization is requested").wait_for()
    assert real_errors(page) == []
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_irreversible_shopper_actions_ask_first(chromium, demo, width):
    page = new_page(chromium, width)
    shop_sign_in(page, demo, demo["people"][2][1])
    page.wait_for_load_state("load")  # the stylesheets decide whether the links sit behind the phone's Menu
    account_link(page, "Addresses")
    for label, value in (("First name", "Ada"), ("Last name", "Lovelace"), ("Street address", "1 Sq")):
        page.get_by_label(label).fill(value)
    page.get_by_label("City").fill("London")
    page.get_by_label("Country code").fill("GB")
    page.get_by_label("Phone").fill("+44 20 7946 0000")
    page.get_by_role("button", name="Add address").click()
    page.get_by_text("Address added.").wait_for()
    page.get_by_text("Delete…").click()
    page.get_by_text("Delete the address of Ada Lovelace from your address book?").wait_for()
    assert axe_violations(page) == []
    shot(page, "confirm-delete-address")
    page.get_by_role("button", name="Yes, delete").click()
    page.get_by_text("Your address book is empty").wait_for()

    account_link(page, "Privacy")
    page.get_by_text("Request deletion…").click()
    page.get_by_text("Ask the store to erase your account").wait_for()
    assert page.get_by_role("button", name="Withdraw my request").count() == 0  # not requested yet
    page.get_by_role("button", name="Request deletion", exact=True).click()
    page.get_by_role("button", name="Withdraw my request").wait_for()
    assert axe_violations(page) == []
    assert real_errors(page) == []
    page.context.close()
