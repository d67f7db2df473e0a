"""Every front door that changes a customer takes its row lock first (PostgreSQL), not only the API: a shop or admin
POST racing the anonymization waits for it, then sees the erased customer and changes nothing, mails nobody."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal import db
from portal.jobs import anonymizer, claims
from portal.models import ActionToken, Customer, CustomerGroup, Organization, OutboxMessage
from portal.services import groups
from portal.services.audit import SYSTEM
from tests.admin.conftest import login as admin_login
from tests.admin.conftest import token as admin_csrf
from tests.conftest import TransactionalClient
from tests.factories import PASSWORD, make_customer, make_group, make_org, make_user
from tests.shop.conftest import csrf_from
from tests.shop.conftest import login as shop_login
from tests.test_anonymization_worker import (
    blocked,
    needs_postgres,
    request_due,
    scan,
)

HELD = "held@example.com"
NEW = "resurrected@example.com"


def _erase_and_hold(customer) -> None:
    """The worker at its worst point: step 1 committed (`started`), step 2 holding the customer's row lock with
    everything erased, not yet committed."""
    [(request, claimed)] = claims.claim(timedelta(seconds=300))
    anonymizer.start(request, claimed)
    db.session.commit()
    [(request, locked)] = claims.lock([request.id])
    anonymizer.complete([(request, locked)])


def _post_in_thread(client, path: str, data: dict):
    """The request in its own thread, hence its own app context, session and connection (as in production)."""
    outcome: dict = {}

    def run():
        outcome["response"] = FlaskClient.open(client, path, method="POST", data=data)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.postgres_only
@pytest.mark.parametrize("door", ["shop", "admin"])
def test_a_shop_or_admin_change_waits_for_the_row_lock_and_then_changes_nothing(
    app, committed, is_postgres, monkeypatch, door
):
    needs_postgres(is_postgres)
    monkeypatch.setattr(app, "test_client_class", TransactionalClient)
    org = make_org()
    admin = make_user(org, "admin")
    customer = make_customer(org, HELD, password=PASSWORD)
    request_due(org, customer)
    db.session.commit()
    client = app.test_client()
    if door == "shop":
        shop_login(client, org, HELD)
        path = f"/{org.slug}/account/profile"
        data = {"email": NEW, "current_password": PASSWORD, "csrf_token": csrf_from(client.get(path).text)}
    else:
        admin_login(client, admin)
        path = f"/admin/{org.slug}/customers/{customer.public_id}/edit"
        data = {
            "email": NEW,
            "shopper_reference": customer.shopper_reference,
            "csrf_token": admin_csrf(client, path),
        }
    db.session.commit()

    _erase_and_hold(customer)
    thread, outcome = _post_in_thread(client, path, data)
    assert blocked(thread), outcome["response"].status_code
    db.session.commit()
    thread.join(30)

    assert outcome["response"].status_code in (
        303,
        404,
        409,
        422,
    )  # 409: the admin's "anonymized, can't change"
    db.session.rollback()
    assert scan([NEW, HELD]) == []  # no resurrected email, no mail to the erased address
    assert db.session.scalar(select(func.count()).select_from(ActionToken)) == 0
    assert not [m for m in db.session.scalars(select(OutboxMessage)) if HELD in m.recipients]


@pytest.mark.postgres_only
def test_bulk_assign_waits_for_the_row_lock_and_skips_the_erased_customer(app, committed, is_postgres):
    """Bulk assign locks its rows like every other door: racing the anonymizer, it waits, then leaves the erased
    customer alone (a group change landing after erasure would be a change to a record that no longer exists)."""
    needs_postgres(is_postgres)
    org = make_org()
    group = make_group(org)
    customer = make_customer(org, HELD, password=PASSWORD)
    request_due(org, customer)
    db.session.commit()
    ids = (org.id, group.id, customer.public_id)
    _erase_and_hold(customer)
    outcome: dict = {}

    def run():
        with app.app_context():
            org_id, group_id, public_id = ids
            outcome["assigned"] = groups.bulk_assign(
                SYSTEM,
                db.session.get(Organization, org_id),
                [public_id],
                db.session.get(CustomerGroup, group_id),
            )
            db.session.commit()

    thread = threading.Thread(target=run)
    thread.start()
    assert blocked(thread)
    db.session.commit()
    thread.join(30)
    assert outcome["assigned"] == 0
    db.session.rollback()
    assert db.session.scalar(select(Customer.customer_group_id).where(Customer.id == customer.id)) is None
