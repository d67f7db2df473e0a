"""The demo's configuration for browser journeys (issue 13): an org with a storefront origin registered, as
`make run` seeds it (portal/demo/org.py), with an admin (two-factor), a read-only member, shoppers and a group."""

from __future__ import annotations

import re
import tempfile
import time

import pyotp
import pytest

from portal import db
from portal.jobs import webhooks as webhook_delivery
from portal.services import (
    addresses,
    attachments,
    deletion_requests,
    orders,
    staff,
    subscriptions,
    tags,
    webhooks,
)
from portal.services.audit import SYSTEM, Actor
from tests.factories import PASSWORD, make_customer, make_group, make_order, make_org, make_user, unique

STOREFRONT = "http://localhost:5001"
WIDTHS = (1280, 390)
ADDRESS = {
    "line_1": "12 Via Roma",
    "city": "Milano",
    "zip_code": "20121",
    "country_code": "IT",
    "phone": "+39 02 1",
}


@pytest.fixture()
def demo(live_server) -> dict:
    with live_server.data():
        org = make_org(unique("demo"))
        org.allowed_origins = [STOREFRONT]
        admin = make_user(org, "admin")
        secret = staff.new_totp_secret()
        # the previous step's code: a code signs in only once, and the sign-in below uses the current one
        staff.enable_totp(SYSTEM, admin, secret, pyotp.TOTP(secret).at(time.time() - 30))
        viewer = make_user(org, "read_only")
        group = make_group(org, "VIP")
        hook = webhooks.create_webhook(
            SYSTEM,
            org,
            {"name": "CRM sync", "topic": "customers.create", "callback_url": "http://127.0.0.1:9/crm"},
        )
        people = [make_customer(org, f"{n}-{unique('c')}@example.com", password=PASSWORD) for n in "abcdefgh"]
        deletion = deletion_requests.create(Actor.of_customer(people[-1]), org, people[-1])
        address = addresses.add_to_address_book(
            SYSTEM, org, people[0], {**ADDRESS, "first_name": "Grace", "last_name": "Hopper"}
        )
        order = make_order(org, people[0], placed=False, total_amount_cents=4200)
        orders.add_line_item(org, order, {"name": "Linen shirt", "quantity": 3, "unit_amount_cents": 1400})
        orders.place_order(SYSTEM, org, order)
        for person, names in ((people[0], ("vip", "early_adopter")), (people[1], ("vip",))):
            for name in names:
                tags.add_by_name(SYSTEM, org, person, name)
        attachments.add_note(
            Actor.of_user(admin), org, people[0], "Called about the linen shirt.\nPrefers email, not phone."
        )
        subscriptions.set_newsletter(Actor.of_customer(people[0]), org, people[0], True, source="shop")
        data = {
            "base": live_server.url,
            "slug": org.slug,
            "admin": (admin.email, admin.totp_secret),
            "viewer": viewer.email,
            "group": group.public_id,
            "people": [(c.public_id, c.email) for c in people],
            "deletion": deletion.public_id,
            "address": address.public_id,
            "order": order.public_id,
            "webhook": hook.public_id,
        }
        db.session.commit()
        webhook_delivery.deliver_due(live_server.app)  # nothing listens there: the page shows failed attempts
        db.session.remove()
    return data


def new_page(chromium, width: int = 1280, locale: str = "en-US"):
    """A fresh browser context (its own cookie jar) at `width` px asking for `locale`, collecting console errors
    on `page.errors`."""
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    return page


def staff_sign_in(page, demo, email: str | None = None) -> None:
    """The admin sign-in form; the admin's second step is a TOTP code, a read-only member has none."""
    email = email or demo["admin"][0]
    page.goto(f"{demo['base']}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    if email == demo["admin"][0]:
        page.wait_for_url(re.compile(r"/admin/login/code"))
        page.get_by_label("Authentication code").fill(pyotp.TOTP(demo["admin"][1]).now())
        page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(rf"/admin/{demo['slug']}/$"))


def shop_sign_in(page, demo, email: str, *, embed: bool = False) -> None:
    page.goto(f"{demo['base']}/{demo['slug']}/account/login" + ("?embed=1" if embed else ""))
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Hello").wait_for()


def account_link(page, name: str) -> None:
    """Follow a link of the shopper's header; at phone width it sits behind the Menu disclosure, opened first (once
    the stylesheets have loaded: before, the phone menu shows at every width, and a loaded machine caught it so)."""
    page.wait_for_load_state()
    menu = page.locator("details.account-menu.phone")
    if menu.is_visible() and menu.get_attribute("open") is None:
        menu.locator("summary").click()
    page.get_by_role("link", name=name, exact=True).click()


def shot(page, name: str) -> None:
    """A screenshot to look at while working (not committed, not asserted)."""
    folder = tempfile.gettempdir()
    page.screenshot(path=f"{folder}/browser-{name}-{page.viewport_size['width']}.png", full_page=True)


def real_errors(page) -> list[str]:
    """Console errors other than Chromium's and htmx's own lines for each 4xx/5xx response (expected here)."""
    expected = re.compile(
        r"Failed to load resource: the server responded|Response Status Error Code \d+ from "
    )
    return [e for e in page.errors if not expected.match(e)]
