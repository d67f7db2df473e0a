"""Address rules the API and the shop share: one book per address, deletes that leave an audit record."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import db
from portal.errors import Invalid
from portal.models import Address, AuditEvent, CustomerAddress, PasswordReset
from portal.services import addresses, password_resets
from portal.services.audit import SYSTEM
from tests.factories import make_customer, make_org

ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "line_1": "12 St James's Square",
    "city": "London",
    "country_code": "gb",
    "phone": "+44 20 7946 0000",
}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def actions() -> list[tuple[str, str, str]]:
    return [
        (e.action, e.resource_type, e.resource_id)
        for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    ]


@pytest.fixture()
def org(db_session):
    return make_org()


def test_deleting_an_unlinked_address_is_audited(org):
    address = addresses.create_address(SYSTEM, org, ADDRESS)
    addresses.delete_address(SYSTEM, org, address)
    assert count(Address) == 0
    assert actions()[-1] == ("address.destroy", "addresses", address.public_id)


def test_deleting_a_booked_address_removes_its_book_entry(org):
    entry = addresses.add_to_address_book(SYSTEM, org, make_customer(org), ADDRESS)
    addresses.delete_address(SYSTEM, org, entry.address)
    assert count(CustomerAddress) == 0 and count(Address) == 0
    assert actions()[-1] == ("customer_address.destroy", "customer_addresses", entry.public_id)


def test_unlinked_address_is_the_free_address_of_this_org(org):
    free = addresses.create_address(SYSTEM, org, ADDRESS)
    assert addresses.unlinked_address(org, free.public_id) is free


@pytest.mark.parametrize("case", ["blank", "booked", "other_org", "unknown"])
def test_unlinked_address_refuses(org, case):
    booked = addresses.add_to_address_book(SYSTEM, org, make_customer(org), ADDRESS).address
    other = make_org()
    foreign = addresses.create_address(SYSTEM, other, ADDRESS)
    public_id = {"blank": None, "booked": booked.public_id, "other_org": foreign.public_id, "unknown": "nope"}
    with pytest.raises(Invalid) as refused:
        addresses.unlinked_address(org, public_id[case])
    assert refused.value.field == "address"
    assert refused.value.code == ("blank" if case == "blank" else "invalid")
    assert count(CustomerAddress) == 1


def test_deleting_a_password_reset_is_audited(org):
    customer = make_customer(org)
    reset, _token = password_resets.request_reset(SYSTEM, org, customer.email)
    password_resets.delete_reset(SYSTEM, org, reset)
    assert count(PasswordReset) == 0
    assert actions()[-1] == ("customer_password_reset.destroy", "customer_password_resets", reset.public_id)
