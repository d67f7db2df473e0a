"""Overview, profile (email change by link), password change, security (sign-ins, changes, sessions)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.models import ActionToken, LoginSession
from tests.factories import PASSWORD, make_customer, make_group, make_market, make_order
from tests.shop.conftest import csrf_from, login, post_form

NEW_PASSWORD = "another long secret"


@pytest.mark.parametrize("page", ["", "profile", "password", "security", "orders", "addresses", "privacy"])
def test_every_page_renders_plain_and_htmx(signed_in, org, page, hx):
    for headers in ({}, hx):
        response = signed_in.get(f"/{org.slug}/account/{page}", headers=headers)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"


def test_overview_shows_status_orders_group_and_markets(client, org):
    vip = make_group(org, "Gold club", "gold")
    make_market(org, "gold-sales", group=vip)
    make_market(org, "hidden", group=make_group(org, "Other", "other"))
    customer = make_customer(org, password=PASSWORD, group=vip)
    make_order(org, customer)
    make_order(org, customer)
    login(client, org, customer.email)
    html = client.get(f"/{org.slug}/account/").get_data(as_text=True)
    assert "badge-repeat" in html and "Gold club" in html
    assert "Main" in html and "Market" in html
    assert html.count("members only") == 1


def test_email_change_by_link_with_notice_to_the_old_address(signed_in, org, shopper, deliver):
    old = shopper.email
    response = post_form(
        signed_in, f"/{org.slug}/account/profile", {"email": "new@example.com", "current_password": PASSWORD}
    )
    assert response.status_code == 303
    db.session.refresh(shopper)
    assert shopper.email == old  # nothing changes before the link
    inbox = deliver()
    assert "new@example.com" in inbox.text(inbox.to(old)[0])
    link = inbox.link(inbox.to("new@example.com")[0], "/confirm-email/")
    assert post_form(signed_in, link, {}).status_code == 303
    db.session.refresh(shopper)
    assert shopper.email == "new@example.com" and shopper.email_verified_at is not None
    assert post_form(signed_in, link, {}).status_code == 422


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "new@example.com", "current_password": "wrong password"}, "current_password"),
        ({"email": "nope", "current_password": PASSWORD}, "email"),
        ({"email": "", "current_password": ""}, "email"),
    ],
)
def test_bad_email_change_is_422_and_writes_nothing(signed_in, org, data, field, hx):
    for headers in ({}, hx):
        response = post_form(signed_in, f"/{org.slug}/account/profile", data, headers=headers)
        assert response.status_code == 422
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(ActionToken)) is None


def test_email_change_to_a_taken_address_fails_at_confirmation(signed_in, org, shopper, deliver):
    taken = make_customer(org)
    post_form(signed_in, f"/{org.slug}/account/profile", {"email": taken.email, "current_password": PASSWORD})
    inbox = deliver()
    response = post_form(signed_in, inbox.link(inbox.to(taken.email)[0], "/confirm-email/"), {})
    assert response.status_code == 422 and "already in use" in response.get_data(as_text=True)


def test_password_change_ends_other_sessions_keeps_this_one(app, signed_in, org, shopper, deliver):
    other = app.test_client()
    login(other, org, shopper.email)
    data = {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = post_form(signed_in, f"/{org.slug}/account/password", data)
    assert response.status_code == 303
    assert signed_in.get(f"/{org.slug}/account/password").status_code == 200
    assert other.get(f"/{org.slug}/account/").status_code == 302
    assert "password was changed" in deliver().to(shopper.email)[0]["Subject"]
    login(app.test_client(), org, shopper.email, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"current_password": "wrong one!", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            "current_password",
        ),
        ({"current_password": PASSWORD, "password": "short", "confirm": "short"}, "password"),
        ({"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": "other"}, "confirm"),
    ],
)
def test_bad_password_change_is_422_and_writes_nothing(signed_in, org, shopper, data, field, hx):
    before = shopper.password_hash
    for headers in ({}, hx):
        response = post_form(signed_in, f"/{org.slug}/account/password", data, headers=headers)
        assert response.status_code == 422
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    db.session.refresh(shopper)
    assert shopper.password_hash == before


def _session_row(customer, *, current_sid=None):
    rows = db.session.scalars(
        select(LoginSession).where(
            LoginSession.principal_id == customer.id, LoginSession.revoked_at.is_(None)
        )
    ).all()
    return rows


def test_security_lists_sessions_and_changes_and_signs_one_out(app, signed_in, org, shopper, hx):
    other = app.test_client()
    login(other, org, shopper.email)
    html = signed_in.get(f"/{org.slug}/account/security").get_data(as_text=True)
    assert "this browser" in html and "Account created" in html
    rows = _session_row(shopper)
    assert len(rows) == 2
    target = max(rows, key=lambda r: r.id)  # the other browser signed in last
    page = signed_in.get(f"/{org.slug}/account/security")
    token = csrf_from(page.get_data(as_text=True))
    url = f"/{org.slug}/account/security/sessions/{target.id}/end"
    response = signed_in.post(url, data={"csrf_token": token}, headers=hx)
    assert response.status_code == 303
    fragment = signed_in.get(response.headers["Location"], headers=hx).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="active-sessions"') and "signed out" in fragment
    assert other.get(f"/{org.slug}/account/").status_code == 302
    assert signed_in.get(f"/{org.slug}/account/").status_code == 200


def test_cannot_end_another_customers_session(app, signed_in, org):
    stranger = make_customer(org, password=PASSWORD)
    login(app.test_client(), org, stranger.email)
    row = _session_row(stranger)[0]
    response = post_form(
        signed_in,
        f"/{org.slug}/account/security",
        {},
        url=f"/{org.slug}/account/security/sessions/{row.id}/end",
    )
    assert response.status_code == 404
    db.session.refresh(row)
    assert row.revoked_at is None


def test_sign_out_everywhere(app, signed_in, org, shopper):
    other = app.test_client()
    login(other, org, shopper.email)
    response = post_form(
        signed_in,
        f"/{org.slug}/account/security",
        {},
        url=f"/{org.slug}/account/security/sign-out-everywhere",
    )
    assert response.status_code == 303
    assert other.get(f"/{org.slug}/account/").status_code == 302
    assert signed_in.get(f"/{org.slug}/account/").status_code == 302
    assert _session_row(shopper) == []
