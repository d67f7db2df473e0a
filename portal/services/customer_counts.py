"""Customer counts per organization, status and group, read from `customer_counts` (kept by triggers, see
migration 0009) instead of counting the customers table: a handful of rows whatever the organization's size."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from sqlalchemy import Select, bindparam, delete, func, insert, literal_column, select

from portal import db
from portal.models import Customer, CustomerCount, Organization


@functools.cache
def _total(by_status: bool) -> Select:
    """The sum over the organization's counter rows, built once and run on the table (not the ORM entity): on
    every API list of customers, building and running it through the ORM cost five times the query itself."""
    table = CustomerCount.__table__
    statement = select(func.coalesce(func.sum(table.c.count), 0)).where(
        table.c.organization_id == bindparam("organization_id")
    )
    if by_status:
        statement = statement.where(table.c.status.in_(bindparam("statuses", expanding=True)))
    return statement


def total(organization_id: int, statuses: Iterable[str] | None = None) -> int:
    """How many customers the organization has (with one of `statuses`, when given)."""
    params: dict[str, object] = {"organization_id": organization_id}
    if statuses is not None:
        params["statuses"] = list(statuses)
    return int(db.session.execute(_total(statuses is not None), params).scalar_one())


def by_status(org: Organization) -> dict[str, int]:
    rows = db.session.execute(
        select(CustomerCount.status, func.sum(CustomerCount.count))
        .where(CustomerCount.organization_id == org.id)
        .group_by(CustomerCount.status)
    ).all()
    return {status: int(count) for status, count in rows if count}


def by_group(org: Organization) -> dict[int, int]:
    """Members per customer group id (groups without members are absent)."""
    rows = db.session.execute(
        select(CustomerCount.group_key, func.sum(CustomerCount.count))
        .where(CustomerCount.organization_id == org.id, CustomerCount.group_key != 0)
        .group_by(CustomerCount.group_key)
    ).all()
    return {group: int(count) for group, count in rows if count}


def recount(org: Organization | None = None) -> None:
    """Recompute the counters from the customers table (after a bulk load that bypassed the triggers)."""
    scope = [CustomerCount.organization_id == org.id] if org is not None else []
    db.session.execute(delete(CustomerCount).where(*scope))
    group_key = func.coalesce(Customer.customer_group_id, literal_column("0"))
    source = select(Customer.organization_id, Customer.status, group_key, func.count()).group_by(
        Customer.organization_id, Customer.status, group_key
    )
    if org is not None:
        source = source.where(Customer.organization_id == org.id)
    db.session.execute(
        insert(CustomerCount).from_select(["organization_id", "status", "group_key", "count"], source)
    )
    db.session.flush()
