"""Sign-up with email verification (and guest claiming), login with market rules, logout, forgotten passwords."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import ActionToken, Customer, LoginSession, PasswordReset
from tests.factories import PASSWORD, make_customer, make_group, make_market, make_org
from tests.shop.conftest import csrf_from, login, post_form

NEW_PASSWORD = "a brand new secret"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_login_page_renders_plain_and_htmx(client, org, hx):
    for headers in ({}, hx):
        response = client.get(f"/{org.slug}/account/login", headers=headers)
        assert response.status_code == 200
        assert 'name="email"' in response.get_data(as_text=True)
        assert response.headers["Vary"] and "HX-Request" in response.headers["Vary"]


def test_unknown_org_is_404(client, db_session):
    assert client.get("/no-such-org/account/login").status_code == 404


def test_pages_need_a_session(client, org):
    response = client.get(f"/{org.slug}/account/orders")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/{org.slug}/account/login?next=")


def test_login_then_logout(client, org, shopper):
    response = login(client, org, shopper.email)
    assert response.headers["Location"] == f"/{org.slug}/account/"
    assert client.get(f"/{org.slug}/account/").status_code == 200
    post_form(client, f"/{org.slug}/account/", {}, url=f"/{org.slug}/account/logout")
    assert client.get(f"/{org.slug}/account/").status_code == 302
    row = db.session.scalar(select(LoginSession).where(LoginSession.principal_id == shopper.id))
    assert row.revoked_at is not None


def test_a_form_posted_after_signing_out_elsewhere_goes_to_the_login_page(client, org, shopper, hx):
    """Signing out in another tab empties the session, so the open page's form fails the CSRF check: that is an
    ended session, not a forgery, and it goes to the login page (htmx: the whole page) instead of a 400."""
    login(client, org, shopper.email)
    token = csrf_from(client.get(f"/{org.slug}/account/addresses").get_data(as_text=True))
    post_form(client, f"/{org.slug}/account/", {}, url=f"/{org.slug}/account/logout")
    form = {"csrf_token": token, "first_name": "Ada", "line_1": "1 Way", "city": "Rome", "country_code": "IT"}
    response = client.post(f"/{org.slug}/account/addresses", data=form, headers=hx)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith(f"/{org.slug}/account/login?next=")
    response = client.post(f"/{org.slug}/account/addresses", data=form)
    assert response.status_code == 302 and response.headers["Location"].startswith(
        f"/{org.slug}/account/login"
    )
    signed_out = client.post(
        f"/{org.slug}/account/login", data={"email": shopper.email, "password": PASSWORD}
    )
    assert signed_out.status_code == 400  # a public form without its token is still refused as before


def test_whole_page_moves_answer_htmx_with_hx_redirect(client, org, shopper, hx):
    """A shop form posted by htmx (a storefront or a boosted page) changes the whole page: HX-Redirect, not a 303
    whose target page htmx would swap into the form's element."""
    response = login(client, org, shopper.email)
    assert response.status_code == 303  # a plain form keeps its 303
    response = post_form(client, f"/{org.slug}/account/", {}, url=f"/{org.slug}/account/logout", headers=hx)
    assert response.status_code == 204 and response.get_data() == b""
    assert response.headers["HX-Redirect"] == f"/{org.slug}/account/login"
    assert client.get(f"/{org.slug}/account/").status_code == 302


def test_login_keeps_a_safe_next_only(client, org, shopper):
    page = client.get(f"/{org.slug}/account/login?next=/{org.slug}/account/orders")
    token = csrf_from(page.get_data(as_text=True))
    data = {"csrf_token": token, "email": shopper.email, "password": PASSWORD}
    response = client.post(f"/{org.slug}/account/login", data={**data, "next": f"/{org.slug}/account/orders"})
    assert response.headers["Location"] == f"/{org.slug}/account/orders"
    client.get(f"/{org.slug}/account/")  # fresh token after the new session
    page = client.get(f"/{org.slug}/account/login?market=x")
    data["csrf_token"] = csrf_from(page.get_data(as_text=True))
    response = client.post(f"/{org.slug}/account/login", data={**data, "next": "https://evil.example/"})
    assert response.headers["Location"] == f"/{org.slug}/account/"


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}])
def test_wrong_password_and_unknown_email_answer_alike(client, org, shopper, headers):
    bodies = []
    for email, password in ((shopper.email, "wrong password!"), ("nobody@example.com", PASSWORD)):
        response = post_form(
            client, f"/{org.slug}/account/login", {"email": email, "password": password}, headers=headers
        )
        assert response.status_code == 422
        bodies.append(response.get_data(as_text=True))
    assert all("match an account" in body for body in bodies)
    assert _count(LoginSession) == 0


def test_blank_login_is_422_with_field_errors(client, org):
    response = post_form(client, f"/{org.slug}/account/login", {"email": "", "password": ""})
    assert response.status_code == 422
    assert response.get_data(as_text=True).count("field-error") == 2


def test_login_is_throttled_like_the_password_grant(client, org, shopper):
    for _ in range(10):
        post_form(client, f"/{org.slug}/account/login", {"email": shopper.email, "password": "bad guess 123"})
    response = post_form(client, f"/{org.slug}/account/login", {"email": shopper.email, "password": PASSWORD})
    assert response.status_code == 422


def test_csrf_token_is_required(client, org, shopper):
    response = client.post(f"/{org.slug}/account/login", data={"email": shopper.email, "password": PASSWORD})
    assert response.status_code == 400


def test_cross_site_post_is_refused(client, org, shopper):
    page = client.get(f"/{org.slug}/account/login")
    data = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "email": shopper.email,
        "password": PASSWORD,
    }
    response = client.post(
        f"/{org.slug}/account/login", data=data, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    response = client.post(f"/{org.slug}/account/login", data=data, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


def test_private_market_admits_only_its_group(client, org):
    vip = make_group(org, "VIP", "vip")
    make_market(org, "vip-sales", group=vip)
    outsider = make_customer(org, password=PASSWORD)
    member = make_customer(org, password=PASSWORD, group=vip)
    url = f"/{org.slug}/account/login?market=vip-sales"
    page = client.get(url)
    token = csrf_from(page.get_data(as_text=True))
    assert 'value="vip-sales"' in page.get_data(as_text=True)
    data = {"csrf_token": token, "market": "vip-sales", "password": PASSWORD}
    refused = client.post(url, data={**data, "email": outsider.email})
    assert refused.status_code == 422
    assert "reserved for members of VIP" in refused.get_data(as_text=True)
    assert client.post(url, data={**data, "email": member.email}).status_code == 303


def test_another_orgs_customer_cannot_log_in_here(client, org):
    other = make_org()
    stranger = make_customer(other, password=PASSWORD)
    response = post_form(
        client, f"/{org.slug}/account/login", {"email": stranger.email, "password": PASSWORD}
    )
    assert response.status_code == 422


def test_a_session_of_another_org_is_not_valid_here(client, org, shopper):
    other = make_org()
    login(client, org, shopper.email)
    assert client.get(f"/{other.slug}/account/").status_code == 302


def test_sign_up_verifies_the_email_before_the_account_exists(client, org, deliver):
    email = "new.shopper@example.com"
    data = {"email": email, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = post_form(client, f"/{org.slug}/account/signup", data)
    assert response.status_code == 303 and response.headers["Location"].endswith("/signup/sent")
    assert client.get(response.headers["Location"]).status_code == 200
    assert db.session.scalar(select(Customer).where(Customer.email == email)) is None
    inbox = deliver()
    link = inbox.link(inbox.to(email)[0], "/verify-email/")
    assert client.get(link).status_code == 200
    assert post_form(client, link, {}).status_code == 303
    customer = db.session.scalar(select(Customer).where(Customer.email == email))
    assert customer.email_verified_at is not None and customer.has_password
    login(client, org, email, NEW_PASSWORD)
    assert post_form(client, link, {}).status_code == 422  # single use


def test_sign_up_with_a_guest_email_claims_it_only_after_verification(client, org, deliver):
    guest = make_customer(org, "guest@example.com")
    data = {"email": "guest@example.com", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert post_form(client, f"/{org.slug}/account/signup", data).status_code == 303
    db.session.refresh(guest)
    assert not guest.has_password  # no takeover before the link
    response = post_form(
        client, f"/{org.slug}/account/login", {"email": "guest@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 422
    inbox = deliver()
    assert post_form(client, inbox.link(inbox.to(guest.email)[0], "/verify-email/"), {}).status_code == 303
    db.session.refresh(guest)
    assert guest.has_password and guest.email_verified_at is not None
    assert _count(Customer) == 1
    login(client, org, guest.email, NEW_PASSWORD)


def test_sign_up_with_a_registered_email_looks_the_same_and_warns_the_owner(client, org, shopper, deliver):
    data = {"email": shopper.email, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = post_form(client, f"/{org.slug}/account/signup", data)
    assert response.status_code == 303 and response.headers["Location"].endswith("/signup/sent")
    assert _count(ActionToken) == 0
    message = deliver().to(shopper.email)[0]
    assert "already" in message["Subject"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short", "confirm": "short"}, "password"),
        ({"email": "a@example.com", "password": NEW_PASSWORD, "confirm": "different"}, "confirm"),
        ({"email": "", "password": "", "confirm": ""}, "email"),
    ],
)
def test_bad_sign_up_is_422_and_writes_nothing(client, org, data, field, hx):
    for headers in ({}, hx):
        response = post_form(client, f"/{org.slug}/account/signup", data, headers=headers)
        assert response.status_code == 422
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _count(ActionToken) == 0 and _count(Customer) == 0


def test_forgot_password_by_emailed_link(client, org, shopper, deliver):
    other = client.application.test_client()  # a second browser, signed in
    login(other, org, shopper.email)
    for email in (shopper.email, "nobody@example.com"):
        response = post_form(client, f"/{org.slug}/account/password/forgot", {"email": email})
        assert response.status_code == 303
        assert "If an account uses that address" in client.get(response.headers["Location"]).get_data(
            as_text=True
        )
    inbox = deliver()
    assert inbox.to("nobody@example.com") == []
    link = inbox.link(inbox.to(shopper.email)[0], "/password/reset/")
    bad = post_form(client, link, {"password": "short", "confirm": "short"})
    assert bad.status_code == 422 and 'id="password-error"' in bad.get_data(as_text=True)
    response = post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert other.get(f"/{org.slug}/account/").status_code == 302  # every session ended
    login(client, org, shopper.email, NEW_PASSWORD)
    again = post_form(client, link, {"password": "yet another secret", "confirm": "yet another secret"})
    assert again.status_code == 422 and "invalid or has expired" in again.get_data(as_text=True)
    assert db.session.scalar(select(PasswordReset)).reset_password_at is not None


def test_reset_with_an_unknown_token_is_422(client, org):
    response = post_form(
        client,
        f"/{org.slug}/account/password/reset/nope",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 422
