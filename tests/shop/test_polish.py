"""Issue 13's follow-ups on the shopper pages: resending the verification link (limited), the pending email change
on the profile, a password rule shown once, and the favicon."""

from __future__ import annotations

from sqlalchemy import func, select

from portal import db
from portal.models import OutboxMessage
from portal.services import accounts
from tests.factories import PASSWORD, make_customer
from tests.shop.conftest import csrf_from, post_form


def _verification_mails(customer) -> int:
    query = select(func.count()).where(
        OutboxMessage.topic == "verify_address", OutboxMessage.customer_id == customer.id
    )
    return db.session.scalar(query)


def test_an_unverified_shopper_resends_the_link_and_following_it_verifies(signed_in, org, shopper, deliver):
    assert shopper.email_verified_at is None
    page = signed_in.get(f"/{org.slug}/account/profile").get_data(as_text=True)
    assert "Not yet" in page and "Resend verification email" in page
    sent = post_form(
        signed_in, f"/{org.slug}/account/profile", {}, url=f"/{org.slug}/account/profile/verify-email"
    )
    assert sent.status_code == 303
    link = deliver().link(deliver().to(shopper.email)[-1], "/confirm-email/")
    assert post_form(signed_in, link, {}).status_code == 303
    db.session.refresh(shopper)
    assert shopper.email_verified_at is not None
    page = signed_in.get(f"/{org.slug}/account/profile").get_data(as_text=True)
    assert "Resend verification email" not in page and "Your email address is confirmed" in page


def test_resending_is_limited_per_customer_and_a_verified_address_gets_nothing(signed_in, org, shopper):
    url = f"/{org.slug}/account/profile/verify-email"
    token = csrf_from(signed_in.get(f"/{org.slug}/account/profile").get_data(as_text=True))
    for _ in range(3):
        assert signed_in.post(url, data={"csrf_token": token}).status_code == 303
    refused = signed_in.post(url, data={"csrf_token": token})
    assert refused.status_code == 429 and "try again in an hour" in refused.get_data(as_text=True)
    assert _verification_mails(shopper) == 3
    assert signed_in.post(url, data={}).status_code == 400  # no CSRF token: refused, nothing sent
    assert _verification_mails(shopper) == 3
    verified = make_customer(org, "sure@example.com", password=PASSWORD)
    verified.email_verified_at = db.utcnow()
    assert accounts.resend_verification(org, verified) is True and _verification_mails(verified) == 0


def test_resending_needs_a_signed_in_shopper(client, org):
    response = client.post(f"/{org.slug}/account/profile/verify-email", data={})
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
    assert _count_all() == 0


def _count_all() -> int:
    return db.session.scalar(select(func.count()).where(OutboxMessage.topic == "verify_address"))


def test_the_profile_shows_a_pending_email_change(signed_in, org, shopper):
    response = post_form(
        signed_in, f"/{org.slug}/account/profile", {"email": "next@example.com", "current_password": PASSWORD}
    )
    assert response.status_code == 303
    page = signed_in.get(f"/{org.slug}/account/profile").get_data(as_text=True)
    assert "Waiting for confirmation" in page and "next@example.com" in page
    other = make_customer(org, "other@example.com", password=PASSWORD)
    assert accounts.pending_email_change(org, other) is None


def test_a_short_password_states_the_rule_once(signed_in, org):
    response = post_form(
        signed_in,
        f"/{org.slug}/account/password",
        {"current_password": PASSWORD, "password": "short", "confirm": "short"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert page.count("characters") == 1, page  # the error, not the hint as well


def test_the_favicon_is_served_and_linked(client, org):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"
    page = client.get(f"/{org.slug}/account/login").get_data(as_text=True)
    assert 'rel="icon" href="/static/favicon.svg"' in page
    with client.get("/static/favicon.svg") as svg:
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
