"""Shopper-area fixtures: an org with a signed-in customer, CSRF tokens read from the rendered forms, a real SMTP
server (aiosmtpd) receiving what the outbox delivers."""

from __future__ import annotations

import re

import pytest

from portal.jobs import mailer
from tests.conftest import Inbox
from tests.factories import PASSWORD, make_customer, make_org

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_form(client, page_url: str, data: dict, *, url: str | None = None, **kwargs):
    """Load the page (as a browser would), take its CSRF token, submit `data` to `url` (default: the page)."""
    page = client.get(page_url)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(url or page_url, data={"csrf_token": token, **data}, **kwargs)


def login(client, org, email: str, password: str = PASSWORD):
    response = post_form(client, f"/{org.slug}/account/login", {"email": email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


@pytest.fixture()
def org(db_session):
    return make_org()


@pytest.fixture()
def shopper(org):
    return make_customer(org, password=PASSWORD)


@pytest.fixture()
def signed_in(client, org, shopper):
    login(client, org, shopper.email)
    return client


@pytest.fixture()
def deliver(app, smtp):
    """Run the outbox delivery (as the worker does) and return the inbox."""

    def run() -> Inbox:
        mailer.deliver_due(app)
        return smtp

    return run
