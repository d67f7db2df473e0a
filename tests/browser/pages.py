"""Every page of the product, as one list that `make screenshots` (tests/browser/screenshots.py) and the axe-core
walk (tests/browser/test_every_page.py) share, so a page added here is both photographed and checked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from tests.browser.demo import new_page, staff_sign_in
from tests.factories import PASSWORD

LANGUAGES = ("en", "it")


def shopper_pages(demo: dict) -> dict[str, list[tuple[str, str]]]:
    """(name, path) of the shopper area, signed out and signed in as the demo's first shopper."""
    base = f"/{demo['slug']}/account"
    return {
        "signed-out": [
            ("login", f"{base}/login"),
            ("signup", f"{base}/signup"),
            ("signup-sent", f"{base}/signup/sent"),
            ("password-forgot", f"{base}/password/forgot"),
            ("code-request", f"{base}/login/code"),
            ("not-found", f"{base}/no-such-page"),
        ],
        "signed-in": [
            ("overview", f"{base}/"),
            ("profile", f"{base}/profile"),
            ("addresses", f"{base}/addresses"),
            ("address-edit", f"{base}/addresses/{demo['address']}/edit"),
            ("orders", f"{base}/orders"),
            ("order", f"{base}/orders/{demo['order']}"),
            ("security", f"{base}/security"),
            ("password", f"{base}/password"),
            ("privacy", f"{base}/privacy"),
        ],
    }


def admin_pages(demo: dict) -> list[tuple[str, str]]:
    """(name, path) of the admin area for the demo's org."""
    org = f"/admin/{demo['slug']}"
    customer = demo["people"][0][0]
    return [
        ("orgs", "/admin/"),
        ("dashboard", f"{org}/"),
        ("customers", f"{org}/customers"),
        ("customer", f"{org}/customers/{customer}"),
        ("customer-edit", f"{org}/customers/{customer}/edit"),
        ("groups", f"{org}/groups"),
        ("group", f"{org}/groups/{demo['group']}"),
        ("group-new", f"{org}/groups/new"),
        ("markets", f"{org}/markets"),
        ("privacy", f"{org}/privacy"),
        ("audit", f"{org}/audit"),
        ("settings", f"{org}/settings"),
        ("webhooks", f"{org}/settings/webhooks"),
        ("webhook", f"{org}/settings/webhooks/{demo['webhook']}"),
        ("two-factor", "/admin/account/two-factor"),
        ("account-security", "/admin/account/security"),
    ]


def viewer_pages(demo: dict) -> list[tuple[str, str]]:
    """The read-only member sees the same pages minus the ones only an admin may open."""
    admin_only = {"customer-edit", "group-new"}
    return [(name, path) for name, path in admin_pages(demo) if name not in admin_only]


def walk(chromium, demo: dict, width: int) -> Iterator[tuple[str, object]]:
    """Open every page at `width` px and yield (name, page) once it has loaded: shopper pages in each language,
    then the admin's and the read-only member's pages (English; the admin catalogue is English-only)."""
    pages = shopper_pages(demo)
    for language in LANGUAGES:
        with _browser(chromium, width, language) as page:
            yield from _visit(page, demo, pages["signed-out"], f"shop-{language}")
            _shop_sign_in(page, demo)
            yield from _visit(page, demo, pages["signed-in"], f"shop-{language}")
    for role, email, listing in (
        ("admin", None, admin_pages(demo)),
        ("viewer", demo["viewer"], viewer_pages(demo)),
    ):
        with _browser(chromium, width, "en") as page:
            yield from _visit(page, demo, [("home", "/"), ("login", "/admin/login")], role)
            staff_sign_in(page, demo, email)
            yield from _visit(page, demo, listing, role)


def _visit(page, demo: dict, listing: list[tuple[str, str]], prefix: str) -> Iterator[tuple[str, object]]:
    for name, path in listing:
        page.goto(demo["base"] + path)
        yield f"{prefix}-{name}", page


def _shop_sign_in(page, demo: dict) -> None:
    """The shopper's sign-in form by field names, so it works in either language."""
    page.goto(f"{demo['base']}/{demo['slug']}/account/login")
    page.fill("#login-form input[name=email]", demo["people"][0][1])
    page.fill("#login-form input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/account/$"))


@contextmanager
def _browser(chromium, width: int, language: str) -> Iterator[object]:
    """A fresh context whose browser asks for `language` (Accept-Language), as a shopper's browser would."""
    page = new_page(chromium, width, locale=language)
    try:
        yield page
    finally:
        page.context.close()
