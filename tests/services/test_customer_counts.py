"""The customer counters (migration 0009's triggers) equal COUNT(*) after every kind of write, and roll back with
the transaction that wrote them."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, literal_column, select

from portal import db
from portal.jobs import anonymizer
from portal.models import Customer, CustomerCount
from portal.services import anonymization, customer_counts, customers, groups
from portal.services.audit import SYSTEM, Actor
from tests.factories import make_customer, make_group, make_order, make_org, make_user


def _actual(org) -> Counter:
    rows = db.session.execute(
        select(Customer.status, func.coalesce(Customer.customer_group_id, literal_column("0")), func.count())
        .where(Customer.organization_id == org.id)
        .group_by(Customer.status, func.coalesce(Customer.customer_group_id, literal_column("0")))
    ).all()
    return Counter({(status.value, group): count for status, group, count in rows})


def _counted(org) -> Counter:
    db.session.flush()
    rows = db.session.execute(
        select(CustomerCount.status, CustomerCount.group_key, CustomerCount.count).where(
            CustomerCount.organization_id == org.id
        )
    ).all()
    return Counter({(status, group): count for status, group, count in rows if count})


def assert_exact(org) -> None:
    assert _counted(org) == _actual(org)
    assert customer_counts.total(org.id) == sum(_actual(org).values())


@pytest.fixture()
def org(db_session):
    return make_org()


def test_create_delete_and_orders_move_the_counters(org):
    first, second = make_customer(org), make_customer(org)
    assert customer_counts.by_status(org) == {"prospect": 2}
    make_order(org, first)
    assert customer_counts.by_status(org) == {"prospect": 1, "acquired": 1}
    make_order(org, first)
    assert customer_counts.by_status(org) == {"prospect": 1, "repeat": 1}
    assert customer_counts.total(org.id, ["repeat", "acquired"]) == 1
    assert_exact(org)
    customers.delete_customer(SYSTEM, org, second)
    assert customer_counts.by_status(org) == {"repeat": 1}
    assert_exact(org)


def test_group_changes_and_bulk_assign_move_the_group_counts(org):
    vip, staff = make_group(org, "VIP"), make_group(org, "Staff")
    people = [make_customer(org) for _ in range(4)]
    make_customer(org, group=vip)
    groups.assign_to_group(SYSTEM, org, people[0], staff)
    assert customer_counts.by_group(org) == {vip.id: 1, staff.id: 1}
    assert groups.bulk_assign(SYSTEM, org, [c.public_id for c in people], vip) == 4
    assert customer_counts.by_group(org) == {vip.id: 5}
    groups.assign_to_group(SYSTEM, org, people[1], None)
    assert customer_counts.by_group(org) == {vip.id: 4}
    assert_exact(org)


def test_anonymization_keeps_the_counters_exact(app, org):
    admin = Actor.of_user(make_user(org, "admin"))
    customer = make_customer(org)
    make_order(org, customer)
    anonymization.request_anonymization(admin, org, customer)
    assert_exact(org)
    customer.current_anonymization.due_at = db.utcnow() - timedelta(seconds=1)
    db.session.commit()
    anonymizer.process_due(app)
    db.session.refresh(customer)
    assert customer.anonymized
    assert_exact(org)


def test_a_rolled_back_transaction_leaves_the_counters_as_they_were(org):
    make_customer(org)
    db.session.commit()  # (the test's savepoint) the first customer is written
    before = _counted(org)
    group = make_group(org)
    make_customer(org, group=group)
    make_order(org, make_customer(org))
    assert _counted(org) != before  # the triggers moved them inside the transaction
    db.session.rollback()  # the request fails half-way: nothing it wrote stays, counters included
    assert _counted(org) == before
    assert_exact(org)


def test_organizations_are_counted_apart_and_recount_rebuilds(org):
    other = make_org()
    make_customer(org)
    make_customer(other)
    make_customer(other)
    assert (customer_counts.total(org.id), customer_counts.total(other.id)) == (1, 2)
    db.session.execute(CustomerCount.__table__.delete())  # e.g. a bulk load that bypassed the triggers
    assert customer_counts.total(org.id) == 0
    customer_counts.recount(org)
    assert (customer_counts.total(org.id), customer_counts.total(other.id)) == (1, 0)
    customer_counts.recount()
    assert (customer_counts.total(org.id), customer_counts.total(other.id)) == (1, 2)
    assert_exact(org)
    assert_exact(other)


def test_deleting_an_organization_deletes_its_counters(org):
    make_customer(org)
    db.session.delete(org)
    db.session.flush()
    assert db.session.scalar(select(func.count()).where(CustomerCount.organization_id == org.id)) == 0
