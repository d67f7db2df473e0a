"""Addresses and the customer address book."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import Address, Customer, CustomerAddress
from portal.models.orgs import Organization
from portal.services import validation
from portal.services.audit import Actor, emit, record

TEXT_FIELDS = {
    "first_name": 255,
    "last_name": 255,
    "company": 255,
    "line_1": 255,
    "line_2": 255,
    "city": 255,
    "zip_code": 32,
    "state_code": 32,
    "phone": 64,
    "billing_info": 255,
    "reference": 255,
    "reference_origin": 255,
}
FIELDS = frozenset({*TEXT_FIELDS, "business", "country_code", "email", "notes", "lat", "lng", "metadata"})


def _coordinate(value: Any, field: str, limit: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
        raise Invalid(f"must be a number between -{limit:g} and {limit:g}", field=field, code="invalid")
    return float(value)


def clean(attributes: dict[str, Any], *, current: Address | None = None) -> dict[str, Any]:
    """Validate address attributes (merged over `current` for updates) with Commerce Layer's required rules."""
    validation.unknown_fields(attributes, FIELDS)
    values: dict[str, Any] = {}
    for field, value in attributes.items():
        if field in TEXT_FIELDS:
            values[field] = validation.text(value, field, max_length=TEXT_FIELDS[field])
        elif field == "business":
            values[field] = validation.boolean(value, field)
        elif field == "country_code":
            values[field] = validation.country_code(value, required=False)
        elif field == "email":
            values[field] = validation.email(value) if value not in (None, "") else None
        elif field == "notes":
            values[field] = validation.text(value, field, max_length=2000, multiline=True)
        elif field in ("lat", "lng"):
            values[field] = _coordinate(value, field, 90 if field == "lat" else 180)
        elif field == "metadata":
            values["metadata_"] = validation.metadata(value)
    merged = (
        {
            f: getattr(current, f)
            for f in (
                "business",
                "first_name",
                "last_name",
                "company",
                "line_1",
                "city",
                "country_code",
                "phone",
            )
        }
        if current
        else {}
    )
    merged.update(values)
    required = ["line_1", "city", "country_code", "phone"]
    required += ["company"] if merged.get("business") else ["first_name", "last_name"]
    for field in required:
        if not merged.get(field):
            raise Invalid("can't be blank", field=field, code="blank")
    return values


def build_address(org: Organization, attributes: dict[str, Any], *, pointer: str = "address") -> Address:
    try:
        return Address(organization_id=org.id, **clean(attributes))
    except Invalid as error:
        error.field = f"{pointer}.{error.field}"
        raise


def create_address(actor: Actor, org: Organization, attributes: dict[str, Any]) -> Address:
    """A standalone address (the API creates one, then links it into an address book)."""
    address = Address(organization_id=org.id, **clean(attributes))
    db.session.add(address)
    db.session.flush()
    record(actor, org, "address.create", address, sorted(attributes))
    return address


def get_customer_address(
    org: Organization, public_id: str, customer: Customer | None = None
) -> CustomerAddress:
    """An address-book entry of this org (and of this customer, when given)."""
    query = select(CustomerAddress).where(
        CustomerAddress.organization_id == org.id, CustomerAddress.public_id == public_id
    )
    if customer is not None:
        query = query.where(CustomerAddress.customer_id == customer.id)
    entry = db.session.scalar(query)
    if entry is None:
        raise NotFound("The requested resource was not found", field="id")
    return entry


def add_to_address_book(
    actor: Actor, org: Organization, customer: Customer, attributes: dict[str, Any]
) -> CustomerAddress:
    """Create an address and put it in the customer's address book."""
    return link_address(actor, org, customer, build_address(org, attributes), {})


def update_address(actor: Actor, org: Organization, address: Address, attributes: dict[str, Any]) -> Address:
    values = clean(attributes, current=address)
    changed = [k for k, v in values.items() if getattr(address, k) != v]
    for key in changed:
        setattr(address, key, values[key])
    if changed:
        db.session.flush()
        record(actor, org, "address.update", address, [k.rstrip("_") for k in changed])
    return address


def remove_from_address_book(actor: Actor, org: Organization, entry: CustomerAddress) -> None:
    record(actor, org, "customer_address.destroy", entry)
    emit(org, "customer_addresses.destroy", entry, customer=entry.customer)
    db.session.delete(entry)
    db.session.flush()


def delete_address(actor: Actor, org: Organization, address: Address) -> None:
    """Delete an address: one in an address book leaves the book with it; an unlinked one is audited and deleted."""
    entry = db.session.scalar(select(CustomerAddress).where(CustomerAddress.address_id == address.id))
    if entry is not None:
        remove_from_address_book(actor, org, entry)
        return
    record(actor, org, "address.destroy", address)
    db.session.delete(address)
    db.session.flush()


ENTRY_FIELDS = frozenset({"reference", "reference_origin", "metadata"})


def _entry_values(attributes: dict[str, Any]) -> dict[str, Any]:
    validation.unknown_fields(attributes, ENTRY_FIELDS)
    return {
        ("metadata_" if k == "metadata" else k): validation.metadata(v)
        if k == "metadata"
        else validation.text(v, k)
        for k, v in attributes.items()
    }


def unlinked_address(org: Organization, public_id: str | None) -> Address:
    """The address of this org to link into a book: an address sits in one address book only."""
    if public_id is None:
        raise Invalid("can't be blank", field="address", code="blank")
    address = db.session.scalar(
        select(Address).where(Address.organization_id == org.id, Address.public_id == public_id)
    )
    linked = address is not None and db.session.scalar(
        select(CustomerAddress.id).where(CustomerAddress.address_id == address.id)
    )
    if address is None or linked:
        raise Invalid(
            "The related resource was not found or is already in an address book",
            field="address",
            code="invalid",
        )
    return address


def link_address(
    actor: Actor, org: Organization, customer: Customer, address: Address, attributes: dict[str, Any]
) -> CustomerAddress:
    """Put an existing (unlinked) address of this org into a customer's address book."""
    if customer.organization_id != org.id or address.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="customer")
    if customer.anonymized:
        raise Invalid("An anonymized customer cannot be changed", field="customer", code="anonymized")
    entry = CustomerAddress(
        organization_id=org.id, customer=customer, address=address, **_entry_values(attributes)
    )
    db.session.add(entry)
    db.session.flush()
    record(actor, org, "customer_address.create", entry, sorted(attributes))
    emit(org, "customer_addresses.create", entry, customer=customer)
    return entry


def update_entry(
    actor: Actor, org: Organization, entry: CustomerAddress, attributes: dict[str, Any]
) -> CustomerAddress:
    """Change an address-book entry's own attributes (reference, reference_origin, metadata)."""
    values = _entry_values(attributes)
    changed = [k for k, v in values.items() if getattr(entry, k) != v]
    for key in changed:
        setattr(entry, key, values[key])
    if changed:
        db.session.flush()
        record(actor, org, "customer_address.update", entry, [k.rstrip("_") for k in changed])
    return entry
