"""One-time email codes: the code from the real outbox signs in once; guessing, expiry, a newer code, an unknown or
anonymized address, and the lockout all refuse; the first success proves the mailbox."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal import db
from portal.extensions import limiter
from portal.models import ActionToken, OutboxMessage
from portal.security import throttle
from portal.services import email_codes
from tests.factories import PASSWORD, make_customer, make_order, make_org

IP = "203.0.113.7"


@pytest.fixture()
def org(db_session):
    limiter.reset()
    return make_org()


def mailed_code(to: str) -> str:
    """The code in the newest sign-in email queued for `to` (the outbox row the worker would deliver)."""
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "sign_in_code").order_by(OutboxMessage.id.desc())
    ).first()
    assert message is not None and message.recipients == [to]
    return re.search(r"\b(\d{6})\b", message.payload["text"]).group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def outbox_count() -> int:
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.topic == "sign_in_code")
    return db.session.scalar(query)


def test_a_guest_signs_in_with_the_code_and_claims_the_account(org):
    guest = make_customer(org, "guest@example.com")
    order = make_order(org, guest)
    email_codes.request_code(org, "Guest@Example.com")
    code = mailed_code("guest@example.com")
    assert email_codes.sign_in(org, "guest@example.com", code, IP) is guest
    assert guest.email_verified_at is not None
    assert order.customer_id == guest.id
    assert email_codes.sign_in(org, "guest@example.com", code, IP) is None  # single use


def test_codes_are_stored_hashed(org):
    make_customer(org, "hash@example.com")
    email_codes.request_code(org, "hash@example.com")
    code = mailed_code("hash@example.com")
    row = db.session.scalar(select(ActionToken).where(ActionToken.purpose == email_codes.PURPOSE))
    assert code not in row.token_hash and code not in str(row.payload)


def test_a_new_code_invalidates_the_old_one(org):
    shopper = make_customer(org, "twice@example.com")
    email_codes.request_code(org, shopper.email)
    first = mailed_code(shopper.email)
    email_codes.request_code(org, shopper.email)
    second = mailed_code(shopper.email)
    if first != second:
        assert email_codes.sign_in(org, shopper.email, first, IP) is None
    assert email_codes.sign_in(org, shopper.email, second, IP) is shopper


def test_five_wrong_tries_kill_the_code(org):
    shopper = make_customer(org, "guess@example.com")
    email_codes.request_code(org, shopper.email)
    code = mailed_code(shopper.email)
    for _ in range(5):
        assert email_codes.sign_in(org, shopper.email, wrong(code), IP) is None
    assert email_codes.sign_in(org, shopper.email, code, IP) is None
    email_codes.request_code(org, shopper.email)  # a fresh code has fresh tries
    assert email_codes.sign_in(org, shopper.email, mailed_code(shopper.email), IP) is shopper


def test_wrong_codes_count_in_the_sign_in_lockout(org):
    """The same budget as the password: ten wrong answers (codes or passwords) lock the account."""
    shopper = make_customer(org, "lock@example.com", password=PASSWORD)
    for _ in range(2):
        email_codes.request_code(org, shopper.email)
        code = mailed_code(shopper.email)
        for _ in range(5):
            email_codes.sign_in(org, shopper.email, wrong(code), IP)
    assert not throttle.allowed(throttle.customer_scope(org.id), shopper.email, None)
    email_codes.request_code(org, shopper.email)
    assert email_codes.sign_in(org, shopper.email, mailed_code(shopper.email), IP) is None


def test_an_expired_code_is_refused(org):
    shopper = make_customer(org, "late@example.com")
    email_codes.request_code(org, shopper.email)
    code = mailed_code(shopper.email)
    row = db.session.scalar(select(ActionToken).where(ActionToken.purpose == email_codes.PURPOSE))
    assert row.expires_at - row.created_at <= email_codes.LIFETIME
    row.expires_at = row.created_at  # ten minutes later
    assert email_codes.sign_in(org, shopper.email, code, IP) is None


def test_an_unknown_or_anonymized_address_gets_no_mail(org):
    email_codes.request_code(org, "nobody@example.com")
    email_codes.request_code(org, "not an address")
    gone = make_customer(org, "gone@example.com")
    from portal.models.customers import AnonymizationStatus

    gone.anonymization_status = AnonymizationStatus.COMPLETED
    email_codes.request_code(org, "gone@example.com")
    assert outbox_count() == 0
    assert email_codes.sign_in(org, "nobody@example.com", "000000", IP) is None


def test_a_code_is_for_its_own_org_only(org):
    other = make_org()
    make_customer(other, "two@example.com")
    make_customer(org, "two@example.com")
    email_codes.request_code(other, "two@example.com")
    assert email_codes.sign_in(org, "two@example.com", mailed_code("two@example.com"), IP) is None


def test_a_mailbox_gets_at_most_five_codes_an_hour(org):
    shopper = make_customer(org, "flood@example.com")
    for _ in range(7):
        email_codes.request_code(org, shopper.email)
    assert outbox_count() == 5


def test_proving_the_mailbox_ends_a_password_set_before_it_was(org):
    """An account made through the API with someone's password is unverified; the mailbox's owner signing in with
    a code takes it over, and that password stops working (like request_address_check's reset link)."""
    squatted = make_customer(org, "victim@example.com", password=PASSWORD)
    assert squatted.email_verified_at is None
    email_codes.request_code(org, squatted.email)
    assert email_codes.sign_in(org, squatted.email, mailed_code(squatted.email), IP) is squatted
    assert squatted.password_hash is None and squatted.email_verified_at is not None


def test_a_verified_customers_password_stays(org):
    shopper = make_customer(org, "kept@example.com", password=PASSWORD)
    shopper.email_verified_at = shopper.created_at
    email_codes.request_code(org, shopper.email)
    assert email_codes.sign_in(org, shopper.email, mailed_code(shopper.email), IP) is shopper
    assert shopper.password_hash is not None


@pytest.mark.parametrize("typed", [None, "", "abcdef", "1" * 50, ["123456"]])
def test_garbage_is_a_wrong_code(org, typed):
    shopper = make_customer(org, "garbage@example.com")
    email_codes.request_code(org, shopper.email)
    assert email_codes.sign_in(org, shopper.email, typed, IP) is None
