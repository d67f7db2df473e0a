"""Admin-area fixtures: an org with an admin and a read-only user, and signing in through the real login form."""

from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD, make_customer, make_group, make_org, make_user

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the rendered form"
    return match.group(1)


def login(client, user, password: str = PASSWORD) -> None:
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={"email": user.email, "password": password, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text


def token(client, url: str) -> str:
    """The CSRF token, read from a form rendered at `url`."""
    return csrf_from(client.get(url).text)


@pytest.fixture()
def org(db_session):
    return make_org()


@pytest.fixture()
def other_org(db_session):
    return make_org()


@pytest.fixture()
def admin(org):
    return make_user(org, "admin")


@pytest.fixture()
def reader(org):
    return make_user(org, "read_only")


@pytest.fixture()
def group(org):
    return make_group(org, "VIP")


@pytest.fixture()
def customer(org):
    return make_customer(org, "ann@example.com")


@pytest.fixture()
def as_admin(client, admin):
    login(client, admin)
    return client


@pytest.fixture()
def as_reader(client, reader):
    login(client, reader)
    return client
