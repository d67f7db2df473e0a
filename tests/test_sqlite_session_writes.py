"""SQLite, several server processes: a GET never fails on the write lock because of its bookkeeping (a signed-in
page's last-seen time, an API request's rate-limit count).

A GET reads in a deferred transaction. If another process commits after that read began, upgrading the same
transaction to a write fails at once ("database is locked": the snapshot is stale), so writing `last_seen_at`
there turned signed-in pages into 503s under concurrency. The bookkeeping now goes through `db.write_apart`
(its own BEGIN IMMEDIATE transaction). No timing is asserted: the race is staged step by step.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g, session
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from portal import db
from portal.api.limits import count_request
from portal.models import Customer, LoginSession
from portal.security import sessions
from tests.factories import PASSWORD, make_application, make_customer, make_org, token_for

# PostgreSQL transactions have no read-to-write upgrade that could fail: these stage SQLite's.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture()
def signed_in(committed):
    org = make_org()
    customer = make_customer(org, password=PASSWORD)
    row = LoginSession(
        sid="s" * 40, principal_type="customer", principal_id=customer.id, organization_id=org.id
    )
    db.session.add(row)
    db.session.flush()
    row.last_seen_at = db.utcnow() - timedelta(minutes=5)  # due for its bookkeeping write
    db.session.commit()
    return committed, customer, row


def _another_process_commits(url: str) -> None:
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE customers SET reference = 'touched'"))
    engine.dispose()


def test_the_staged_race_does_fail_a_write_inside_the_read_transaction(app, signed_in):
    url, customer, row = signed_in
    with app.test_request_context("/demo/account/", method="GET"):
        db.session.scalar(select(Customer.id))  # the request's read transaction begins
        _another_process_commits(url)
        with pytest.raises(OperationalError, match="locked"):
            db.session.execute(
                update(LoginSession).where(LoginSession.id == row.id).values(last_seen_at=db.utcnow())
            )
        db.session.rollback()


def test_a_signed_in_get_writes_last_seen_apart_and_succeeds(app, signed_in):
    url, customer, row = signed_in
    before = row.last_seen_at
    with app.test_request_context("/demo/account/", method="GET"):
        session["sid"] = row.sid
        db.session.scalar(select(Customer.id))  # the request's read transaction begins
        _another_process_commits(url)
        assert sessions.load_principal(customer.get_id()).id == customer.id
        db.session.commit()  # the request ends: nothing of its own to write, no upgrade, no error
    engine = db.make_engine(url)
    with engine.connect() as connection:
        seen = connection.execute(
            select(LoginSession.last_seen_at).where(LoginSession.id == row.id)
        ).scalar_one()
    engine.dispose()
    assert seen.replace(tzinfo=None) > before.replace(tzinfo=None)


def test_an_api_get_counts_its_rate_limit_after_another_process_committed(app, committed):
    """The limiter verifies the token (a read), then increments the application's counter (a write): the read
    transaction ends first, so the increment waits for the lock rather than failing with a 503."""
    org = make_org()
    make_customer(org)  # a row for the other process to change
    application, _ = make_application(org)
    token = token_for(application)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    with app.test_request_context("/api/customers", method="GET", headers=headers):
        db.session.scalar(select(Customer.id))  # the request's read transaction begins
        _another_process_commits(committed)
        count_request()
        item, stats = g.api_rate_limit
        assert stats.remaining == item.amount - 1
        db.session.commit()
