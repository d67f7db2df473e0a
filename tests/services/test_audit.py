"""audit.apply_changes: the one "apply a dict of changes, record what changed" every update service uses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent
from portal.services import addresses, audit, groups
from portal.services.audit import SYSTEM
from tests.factories import make_group, make_org


@pytest.fixture()
def org(db_session):
    return make_org()


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_one_event_names_the_changed_public_fields(org):
    group = make_group(org, name="Gold", code="gold")
    changed = audit.apply_changes(
        SYSTEM, org, "customer_group.update", group, {"name": "Gold", "code": "vip", "metadata_": {"tier": 1}}
    )
    assert changed == ["code", "metadata"]  # the unchanged name is neither written nor recorded
    assert (group.code, group.metadata_) == ("vip", {"tier": 1})
    [event] = events("customer_group.update")
    assert event.changed_fields == ["code", "metadata"] and event.resource_id == group.public_id
    assert event.details == {}  # names only: no values (personal data never enters the audit trail)


def test_no_change_writes_no_event(org):
    group = make_group(org, name="Gold", code="gold")
    assert audit.apply_changes(SYSTEM, org, "customer_group.update", group, {"name": "Gold"}) == []
    groups.update_group(SYSTEM, org, group, {"name": "Gold", "code": "gold"})
    assert events("customer_group.update") == []


ADDRESS = {"first_name": "Ada", "last_name": "Lovelace", "line_1": "1 Main St", "city": "London"}
ADDRESS |= {"country_code": "GB", "phone": "+44 1"}


def test_a_customers_timeline_holds_its_address_events_even_after_the_address_is_gone(org):
    from portal.services.accounts import account_changes
    from tests.factories import make_customer

    ada, bob = make_customer(org, "ada@example.com"), make_customer(org, "bob@example.com")
    shopper = audit.Actor.of_customer(ada)
    entry = addresses.add_to_address_book(shopper, org, ada, ADDRESS)
    addresses.update_address(SYSTEM, org, entry.address, {**ADDRESS, "city": "Paris"})  # staff: about Ada too
    addresses.delete_address(SYSTEM, org, entry.address)  # the API's DELETE /api/addresses/<id>
    loose = addresses.create_address(shopper, org, ADDRESS)  # a shopper's token, not in a book yet
    addresses.delete_address(shopper, org, loose)
    addresses.add_to_address_book(SYSTEM, org, bob, ADDRESS)
    db.session.flush()

    timeline = [e.action for e in audit.customer_events(org, ada, 50)]
    assert timeline == [
        "address.destroy",
        "address.create",
        "customer_address.destroy",
        "address.update",
        "customer_address.create",
        "customer.create",
    ]
    assert [e.action for e in audit.customer_events(org, bob, 50)] == [
        "customer_address.create",
        "customer.create",
    ]
    assert [e.action for e in audit.customer_events(make_org(), ada, 50)] == []  # another org's view: nothing
    assert len(account_changes(org, ada)) == 6  # the shopper's security page: account and address book
