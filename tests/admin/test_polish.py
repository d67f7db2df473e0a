"""Issue 13's follow-ups on the admin pages: an anonymized customer is read-only on its page and behind it, and the
customer timeline holds the customer's address events."""

from __future__ import annotations

from sqlalchemy import func, select

from portal import db
from portal.jobs import anonymizer
from portal.models import OutboxMessage, PasswordReset
from portal.services import addresses
from portal.services.audit import Actor
from tests.admin.conftest import token
from tests.factories import PASSWORD, make_customer
from tests.test_anonymization_worker import request_due


def _anonymized(app, org):
    shopper = make_customer(org, "gone@example.com", password=PASSWORD)
    request_due(org, shopper)
    db.session.commit()
    assert anonymizer.process_due(app) == 1
    db.session.refresh(shopper)
    return shopper


def test_an_anonymized_customer_offers_no_edit_or_reset_and_refuses_both(app, as_admin, org):
    shopper = _anonymized(app, org)
    url = f"/admin/{org.slug}/customers/{shopper.public_id}"
    page = as_admin.get(url)
    assert page.status_code == 200 and "Anonymization completed" in page.text
    assert "Send password-reset link" not in page.text and f"{url}/edit" not in page.text
    assert "Save group" not in page.text
    csrf = token(as_admin, f"/admin/{org.slug}/customers")
    assert as_admin.get(f"{url}/edit").status_code == 409
    edit = as_admin.post(f"{url}/edit", data={"csrf_token": csrf, "email": "back@example.com"})
    assert edit.status_code == 409 and "cannot be changed" in edit.text
    reset = as_admin.post(f"{url}/password-reset", data={"csrf_token": csrf})
    assert reset.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 0
    assert db.session.scalar(select(func.count()).where(OutboxMessage.topic == "password_reset")) == 0
    # A live customer still has both.
    live = make_customer(org, "live@example.com", password=PASSWORD)
    page = as_admin.get(f"/admin/{org.slug}/customers/{live.public_id}")
    assert "Send password-reset link" in page.text and "/edit" in page.text


def test_the_timeline_shows_the_customers_address_events(as_admin, org, customer):
    entry = addresses.add_to_address_book(
        Actor.of_customer(customer),
        org,
        customer,
        {"first_name": "Ann", "last_name": "Lee", "line_1": "1 Main St", "city": "Rome", "country_code": "IT"}
        | {"phone": "+39 1"},
    )
    addresses.delete_address(Actor.of_customer(customer), org, entry.address)
    db.session.commit()
    page = as_admin.get(f"/admin/{org.slug}/customers/{customer.public_id}")
    timeline = page.text.split("<h2>Timeline</h2>")[1]
    assert "<strong>Address added</strong>" in timeline and "<strong>Address removed</strong>" in timeline
