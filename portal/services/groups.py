"""Customer groups, membership, and private markets (a market linked to a group)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from portal import db
from portal.errors import Invalid, Locked, NotFound
from portal.models import Customer, CustomerGroup, Market
from portal.models.orgs import Organization
from portal.services import customer_counts, validation
from portal.services import customers as customers_service
from portal.services.audit import Actor, apply_changes, record

FIELDS = frozenset({"name", "code", "reference", "reference_origin", "metadata"})


def get_group(org: Organization, public_id: str) -> CustomerGroup:
    group = db.session.scalar(
        select(CustomerGroup).where(
            CustomerGroup.organization_id == org.id, CustomerGroup.public_id == public_id
        )
    )
    if group is None:
        raise NotFound("The requested resource was not found", field="id")
    return group


def get_market(org: Organization, public_id: str) -> Market:
    market = db.session.scalar(
        select(Market).where(Market.organization_id == org.id, Market.public_id == public_id)
    )
    if market is None:
        raise NotFound("The requested resource was not found", field="id")
    return market


def find_market(org: Organization, *, code: str | None = None, public_id: str | None = None) -> Market | None:
    query = select(Market).where(Market.organization_id == org.id)
    query = (
        query.where(Market.code == code) if code is not None else query.where(Market.public_id == public_id)
    )
    return db.session.scalar(query)


def _clean(attributes: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    checks = validation.Checks()
    checks(validation.unknown_fields, attributes, FIELDS)
    values: dict[str, Any] = {}
    for field, value in attributes.items():
        if field == "name":
            values[field] = checks(validation.text, value, field, required=True)
        elif field == "code":
            values[field] = checks(validation.code, value, field)
        elif field == "metadata":
            values["metadata_"] = checks(validation.metadata, value)
        elif field in FIELDS:
            values[field] = checks(validation.text, value, field)
    if creating and "name" not in attributes:
        checks.add(Invalid("can't be blank", field="name", code="blank"))
    checks.done()
    return values


def _check_code(org: Organization, group: CustomerGroup | None, code: str | None) -> None:
    if code is None:
        return
    clash = select(CustomerGroup.id).where(
        CustomerGroup.organization_id == org.id, CustomerGroup.code == code
    )
    if group is not None and group.id is not None:
        clash = clash.where(CustomerGroup.id != group.id)
    if db.session.scalar(select(exists(clash))):
        raise Invalid("has already been taken", field="code", code="taken")


def create_group(actor: Actor, org: Organization, attributes: dict[str, Any]) -> CustomerGroup:
    """Create a customer group; `code` is unique in the organization."""
    values = _clean(attributes, creating=True)
    _check_code(org, None, values.get("code"))
    group = CustomerGroup(organization_id=org.id, **values)
    db.session.add(group)
    db.session.flush()
    record(actor, org, "customer_group.create", group, [k.rstrip("_") for k in values])
    return group


def update_group(
    actor: Actor, org: Organization, group: CustomerGroup, attributes: dict[str, Any]
) -> CustomerGroup:
    values = _clean(attributes, creating=False)
    _check_code(org, group, values.get("code"))
    apply_changes(actor, org, "customer_group.update", group, values)
    return group


def delete_group(actor: Actor, org: Organization, group: CustomerGroup) -> None:
    """Refused while customers are members or a market is private to the group."""
    if db.session.scalar(select(exists().where(Customer.customer_group_id == group.id))):
        raise Locked("The group still has customers; move them to another group first", field="customers")
    if db.session.scalar(select(exists().where(Market.customer_group_id == group.id))):
        raise Locked("A market is private to this group; unlink the market first", field="markets")
    record(actor, org, "customer_group.destroy", group)
    db.session.delete(group)
    db.session.flush()


def assign_to_group(actor: Actor, org: Organization, customer: Customer, group: CustomerGroup | None) -> None:
    """Put a customer in a group (or none). The group must belong to the customer's organization."""
    if customer.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="id")
    if group is not None and group.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="customer_group")
    if customer.anonymized:
        raise Invalid("An anonymized customer cannot be changed", field="id", code="anonymized")
    new_id = group.id if group else None
    if customer.customer_group_id != new_id:
        customer.customer_group_id = new_id
        customer.customer_group = group
        db.session.flush()
        record(
            actor,
            org,
            "customer.group_change",
            customer,
            ["customer_group"],
            group=group.public_id if group else None,
        )


def bulk_assign(actor: Actor, org: Organization, customer_ids: list[str], group: CustomerGroup | None) -> int:
    """Assign many customers (by public id) at once; ids of other orgs, anonymized customers and ids that can't be
    public ids are ignored; the rows are locked in id order (`customers.lock_many`)."""
    if group is not None and group.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="customer_group")
    customers = customers_service.lock_many(org, customer_ids)
    for customer in customers:
        assign_to_group(actor, org, customer, group)
    return len(customers)


def set_market_group(actor: Actor, org: Organization, market: Market, group: CustomerGroup | None) -> None:
    """Make a market private to a group, or public again with None."""
    if market.organization_id != org.id or (group is not None and group.organization_id != org.id):
        raise NotFound("The requested resource was not found", field="customer_group")
    market.customer_group_id = group.id if group else None
    market.customer_group = group
    db.session.flush()
    record(actor, org, "market.update", market, ["customer_group"], private=group is not None)


def is_market_open_to(market: Market, customer: Customer | None) -> bool:
    """A public market is open to everyone; a private one only to its group's customers."""
    if market.disabled_at is not None:
        return False
    if market.customer_group_id is None:
        return True
    return customer is not None and customer.customer_group_id == market.customer_group_id


def markets_open_to(org: Organization, customer: Customer) -> list[Market]:
    markets = db.session.scalars(
        select(Market)
        .where(Market.organization_id == org.id, Market.disabled_at.is_(None))
        .order_by(Market.number)
    ).all()
    return [m for m in markets if is_market_open_to(m, customer)]


def group_options(org: Organization) -> list[CustomerGroup]:
    """The org's groups for pickers: names only, nothing counted (this is on the search page's hot path)."""
    return list(
        db.session.scalars(
            select(CustomerGroup)
            .where(CustomerGroup.organization_id == org.id)
            .order_by(CustomerGroup.name, CustomerGroup.id)
        )
    )


def with_member_counts(org: Organization) -> list[tuple[CustomerGroup, int]]:
    """Every group with its member count, from the counter rows (no count over the customers)."""
    members = customer_counts.by_group(org)
    return [(group, members.get(group.id, 0)) for group in group_options(org)]


def group_members(org: Organization, group: CustomerGroup, *, limit: int = 100) -> list[Customer]:
    return list(
        db.session.scalars(
            select(Customer)
            .where(Customer.organization_id == org.id, Customer.customer_group_id == group.id)
            .order_by(Customer.email)
            .limit(limit)
        )
    )


def markets_of(org: Organization) -> list[Market]:
    """The org's markets by number, each with its group loaded (the admin markets page)."""
    return list(
        db.session.scalars(
            select(Market)
            .where(Market.organization_id == org.id)
            .options(selectinload(Market.customer_group))
            .order_by(Market.number)
        )
    )
