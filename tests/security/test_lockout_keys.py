"""Equivalent spellings of one address share one failure budget, on the shop login, the admin login and the password
grant (issue 12 item 2): the lockout key is the address as the lookup normalizes it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.services import accounts, staff, validation
from tests.admin.conftest import csrf_from
from tests.factories import PASSWORD, make_application, make_customer, make_org, make_user
from tests.shop.conftest import post_form

ADDRESS = "user@example.com"
# Upper case, a fullwidth full stop (U+FF0E) and a fullwidth "e" (U+FF45): all reach the same account.
SPELLINGS = ["USER@EXAMPLE.COM", "user@example\uff0ecom", "user@\uff45xample.com"]


def _shop(client, org, email, password):
    response = post_form(client, f"/{org.slug}/account/login", {"email": email, "password": password})
    return response.status_code == 303


def _admin(client, org, email, password):
    page = client.get("/admin/login")
    data = {"email": email, "password": password, "csrf_token": csrf_from(page.text)}
    return client.post("/admin/login", data=data).status_code == 303


def _grant(client, org, email, password):
    sales = org.sales_channel
    body = {"grant_type": "password", "client_id": sales.client_id, "username": email, "password": password}
    return client.post("/oauth/token", json=body).status_code == 200


DOORS = {"shop": _shop, "admin": _admin, "password_grant": _grant}


@pytest.fixture()
def org(db_session):
    org = make_org()
    org.sales_channel, _ = make_application(org, "sales_channel")
    make_customer(org, ADDRESS, password=PASSWORD)
    make_user(org, email=ADDRESS)
    return org


@pytest.mark.parametrize("door", DOORS)
def test_every_spelling_reaches_the_account(client, org, door):
    assert all(validation.email_key(spelling) == ADDRESS for spelling in SPELLINGS)
    assert DOORS[door](client, org, SPELLINGS[1], PASSWORD)


@pytest.mark.parametrize("door", DOORS)
def test_equivalent_spellings_share_one_budget(client, org, door):
    attempt = DOORS[door]
    for i in range(10):
        assert not attempt(client, org, SPELLINGS[i % len(SPELLINGS)], f"wrong password {i}")
    for spelling in [ADDRESS, *SPELLINGS]:
        assert not attempt(client, org, spelling, PASSWORD), f"{spelling} got a fresh budget"


def test_shop_login_and_password_grant_share_the_customer_budget(client, org):
    for i in range(5):
        assert not _shop(client, org, SPELLINGS[0], f"wrong {i}")
        assert not _grant(client, org, SPELLINGS[2], f"wrong {i}")
    assert not _shop(client, org, ADDRESS, PASSWORD)
    assert not _admin(client, org, ADDRESS, "wrong") and _admin(
        client, org, ADDRESS, PASSWORD
    )  # staff: own budget


def test_one_check_per_principal():
    """The doors call the services; the services alone talk to the throttle."""
    import inspect

    from portal.admin import auth as admin_auth
    from portal.oauth import grants
    from portal.shop import auth as shop_auth

    for door in (admin_auth, grants, shop_auth):
        assert "throttle" not in inspect.getsource(door)
    assert "throttle.check" in inspect.getsource(accounts.authenticate)
    assert "throttle.check" in inspect.getsource(staff.authenticate)


def test_guessing_the_current_password_shares_the_sign_in_lockout(client, org):
    """A stolen session or token must not get unlimited guesses at the current password (the attacker's review):
    wrong current passwords on the shop's password page and through a customer token count against the same budget
    as signing in, and once it is spent the right password is refused too."""
    from portal.models import Customer
    from tests.api.conftest import Api
    from tests.factories import token_for
    from tests.shop.conftest import login

    customer = db.session.scalar(select(Customer).where(Customer.email == ADDRESS))
    login(client, org, ADDRESS)
    page = f"/{org.slug}/account/password"
    new = {"password": "a new good secret", "confirm": "a new good secret"}
    for i in range(5):
        assert post_form(client, page, {"current_password": f"wrong {i}", **new}).status_code == 422
    api, token = Api(client), token_for(org.sales_channel, customer)
    body = {
        "data": {
            "type": "customers",
            "id": customer.public_id,
            "attributes": {"password": "a new good secret"},
        }
    }
    for i in range(5):
        body["data"]["attributes"]["_current_password"] = f"wrong {i}"
        assert api("PATCH", f"/api/customers/{customer.public_id}", token, body).status_code == 422
    assert post_form(client, page, {"current_password": PASSWORD, **new}).status_code == 422
    body["data"]["attributes"]["_current_password"] = PASSWORD
    assert api("PATCH", f"/api/customers/{customer.public_id}", token, body).status_code == 422
    assert not _grant(client, org, ADDRESS, PASSWORD)  # the sign-in budget is the one spent
