"""Addresses and the customer address book."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, or_, select

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import Address, AuditEvent, Customer, CustomerAddress, Order, column_length
from portal.models.orgs import Organization
from portal.services import validation
from portal.services.audit import Actor, apply_changes, emit, record

# The postal attributes in the order forms show them: the shop's address form and the API list these.
POSTAL_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "line_1",
    "line_2",
    "city",
    "zip_code",
    "state_code",
    "country_code",
    "phone",
)
# Free-text attributes, each checked against its column's length (the country code has its own rule).
TEXT_FIELDS = {
    name: column_length(getattr(Address, name))
    for name in (*POSTAL_FIELDS, "billing_info", "reference", "reference_origin")
    if name != "country_code"
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
    checks = validation.Checks()
    checks(validation.unknown_fields, attributes, FIELDS)
    values: dict[str, Any] = {}
    for field, value in attributes.items():
        if field in TEXT_FIELDS:
            values[field] = checks(validation.text, value, field, max_length=TEXT_FIELDS[field])
        elif field == "business":
            values[field] = checks(validation.boolean, value, field)
        elif field == "country_code":
            values[field] = checks(validation.country_code, value, required=False)
        elif field == "email":
            values[field] = checks(validation.email, value) if value not in (None, "") else None
        elif field == "notes":
            values[field] = checks(validation.text, value, field, max_length=2000, multiline=True)
        elif field in ("lat", "lng"):
            values[field] = checks(_coordinate, value, field, 90 if field == "lat" else 180)
        elif field == "metadata":
            values["metadata_"] = checks(validation.metadata, value)
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
        if not merged.get(field) and not checks.failed(field):
            checks.add(Invalid("can't be blank", field=field, code="blank"))
    checks.done()
    return values


def build_address(org: Organization, attributes: dict[str, Any], *, pointer: str = "address") -> Address:
    try:
        return Address(organization_id=org.id, **clean(attributes))
    except Invalid as error:
        for each in {id(e): e for e in [error, *error.errors]}.values():
            each.field = f"{pointer}.{each.field}"
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
    return _link(actor, org, customer, build_address(org, attributes), {})


def update_address(actor: Actor, org: Organization, address: Address, attributes: dict[str, Any]) -> Address:
    values = clean(attributes, current=address)
    entry = db.session.scalar(select(CustomerAddress).where(CustomerAddress.address_id == address.id))
    apply_changes(actor, org, "address.update", address, values, subject=entry.customer if entry else None)
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


def _linkable(actor: Actor, address: Address) -> bool:
    """Only a free address may join a book: in no book yet and no order's billing or shipping copy (an order keeps
    its own copy; linking it would hand the order's recipient to the book's owner). A customer may link only an
    address it created itself, as recorded by its `address.create` audit event: the addresses its token can see."""
    taken = select(CustomerAddress.id).where(CustomerAddress.address_id == address.id)
    copied = select(Order.id).where(
        or_(Order.billing_address_id == address.id, Order.shipping_address_id == address.id)
    )
    if db.session.scalar(select(exists(taken))) or db.session.scalar(select(exists(copied))):
        return False
    if actor.customer is None:
        return True
    created = select(AuditEvent.id).where(
        AuditEvent.action == "address.create",
        AuditEvent.resource_id == address.public_id,
        AuditEvent.actor_type == "customer",
        AuditEvent.actor_id == actor.customer.public_id,
    )
    return bool(db.session.scalar(select(exists(created))))


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
    """Put an existing address of this org into a customer's address book, if `_linkable` by this actor."""
    if not _linkable(actor, address):
        raise Invalid(
            "The related resource was not found or is already in an address book",
            field="address",
            code="invalid",
        )
    return _link(actor, org, customer, address, attributes)


def _link(
    actor: Actor, org: Organization, customer: Customer, address: Address, attributes: dict[str, Any]
) -> CustomerAddress:
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
    actor: Actor,
    org: Organization,
    entry: CustomerAddress,
    attributes: dict[str, Any],
    *,
    address: Address | None = None,
) -> CustomerAddress:
    """Change an address-book entry's own attributes (reference, reference_origin, metadata) and, given `address`,
    point it at another free address this actor may link (the entry's old address leaves with it)."""
    values = _entry_values(attributes)
    if address is not None and address is not entry.address:
        if address.organization_id != org.id or not _linkable(actor, address):
            raise Invalid(
                "The related resource was not found or is already in an address book",
                field="address",
                code="invalid",
            )
        values["address"] = address
    apply_changes(actor, org, "customer_address.update", entry, values)
    return entry
