"""Erasure: replace or delete every personal value of a batch of customers, set-based (the same dozen statements for
one customer or fifty), then scrub what the storage keeps of the old values.

What is written is read from the column registry (`portal.jobs.privacy`): on `customers`, `orders` and the order
address copies, every `personal` column marked `replace` gets its replacement below and every one marked `clear`
is emptied, so classifying a new personal column there is enough to erase it (a `replace` column without a
replacement stops the import). The rest (sessions, tokens, links, emails) is `portal.services.traces`, shared with a
customer's deletion; tests/test_privacy_registry.py checks that every personal column is written by one of the two.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, case, delete, inspect, null, select, update

from portal import db
from portal.db import new_public_id
from portal.jobs.privacy import REGISTRY, Erasure, Kind
from portal.models import Address, Customer, CustomerAddress, Order, PasswordReset
from portal.services import attachments, subscriptions, tags, traces

ANONYMIZED_DOMAIN = "anonymized.invalid"  # RFC 2606: can never be a real mailbox
NEUTRAL = "Anonymized"
# Rows deleted whole, for the customers being erased.
DELETED_TABLES = frozenset(
    {
        "customer_addresses",
        "customer_password_resets",
        "action_tokens",
        "passkeys",
        "customer_tags",
        "customer_subscriptions",
        "attachments",
    }
)


def _personal(table: str, erasure: Erasure) -> list[str]:
    return [
        name
        for name, rule in REGISTRY[table].items()
        if rule.kind is Kind.PERSONAL and rule.erasure is erasure
    ]


def _cleared(model: type, name: str) -> Any:
    """The empty value of a column: NULL where the column allows it, else the column's own default ({} for
    `metadata`, a non-null JSON object). Not the type's python_type: SQLAlchemy's JSON says `object` for every JSON
    column, so a dict column was once "cleared" to JSON null and read back as `metadata: null`."""
    column = model.__table__.c[name]
    default = column.default
    if column.nullable or default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


# Customers: `replace` columns get a fresh random value (unique ones stay unique), `clear` columns are emptied.
CUSTOMER_REPLACEMENTS: dict[str, Callable[[], Any]] = {
    "email": lambda: f"anon-{secrets.token_hex(16)}@{ANONYMIZED_DOMAIN}",
    "login_id": lambda: new_public_id(24),  # ends every session cookie at once
    "shopper_reference": lambda: new_public_id(24),
    "profile_id": lambda: new_public_id(24),
}
_CUSTOMER_ATTRS = {column.name: key for key, column in inspect(Customer).columns.items()}
CUSTOMER_REPLACED = {name: CUSTOMER_REPLACEMENTS[name] for name in _personal("customers", Erasure.REPLACE)}
CUSTOMER_CLEARED = {name: _cleared(Customer, name) for name in _personal("customers", Erasure.CLEAR)}

# Order address copies: neutral text where the registry says replace, empty where it says clear; a company only
# stays (neutral) on a business address. country_code and business are kept (the VAT treatment).
ADDRESS_COPY: dict[str, Any] = {
    **{name: NEUTRAL for name in _personal("addresses", Erasure.REPLACE)},
    **{name: _cleared(Address, name) for name in _personal("addresses", Erasure.CLEAR)},
    "company": case((Address.__table__.c.business, NEUTRAL), else_=null()),
}
# Orders: the customer's new random email where the registry says replace (customer_email), empty values elsewhere.
ORDER_CLEARED = {name: _cleared(Order, name) for name in _personal("orders", Erasure.CLEAR)}
ORDER_EMAIL = _personal("orders", Erasure.REPLACE)

# The customer fields the audit event lists as erased (API names; the login id is internal).
_FIELD_NAMES = {"password_hash": "password", "customer_group_id": "customer_group", "login_id": None}
ERASED_FIELDS = [
    field
    for field in (_FIELD_NAMES.get(name, name) for name in (*CUSTOMER_REPLACED, *CUSTOMER_CLEARED))
    if field is not None
] + ["customer_addresses", "tags", "customer_subscriptions", "attachments", "anonymization_status"]
# The columns written by the statements below (with traces.WRITES: the registry check).
WRITES = {
    "customers": set(CUSTOMER_REPLACED) | set(CUSTOMER_CLEARED),
    "addresses": set(ADDRESS_COPY),
    "orders": set(ORDER_EMAIL) | set(ORDER_CLEARED),
}


def erase(customers: list[Customer]) -> dict[int, dict[str, int]]:
    """Replace or delete every personal value of these customers. Returns counts per customer (no values) for the
    audit events."""
    addresses = {(customer.organization_id, customer.email) for customer in customers}
    emails = {}
    for customer in customers:
        for name, replacement in CUSTOMER_REPLACED.items():
            setattr(customer, _CUSTOMER_ATTRS[name], replacement())
        for name, value in CUSTOMER_CLEARED.items():
            setattr(customer, _CUSTOMER_ATTRS[name], value)
        emails[customer.id] = customer.email
    ids = list(emails)
    db.session.flush()
    traces.erase(ids, addresses)
    db.session.execute(delete(PasswordReset.__table__).where(PasswordReset.__table__.c.customer_id.in_(ids)))
    tags.erase(ids)
    subscriptions.erase(ids)
    attachments.erase(ids)
    orders = _erase_orders(emails)
    book = _delete_address_book(ids, orders)
    traces.purge_search_index()
    for customer in customers:
        db.session.expire(customer, ["customer_addresses", "tags"])
    return {
        id: {"orders": sum(1 for _, owner in orders.values() if owner == id), "addresses": book.get(id, 0)}
        for id in ids
    }


def _erase_orders(emails: dict[int, str]) -> dict[int, tuple[set[int], int]]:
    """Orders keep number, dates, status, currency and amounts; their email becomes the customer's new random one,
    their metadata is emptied and their address copies get neutral values (country kept: the VAT jurisdiction).
    Returns {order id: (address copy ids, customer id)}."""
    table = Order.__table__
    rows = db.session.execute(
        select(
            table.c.id, table.c.customer_id, table.c.billing_address_id, table.c.shipping_address_id
        ).where(table.c.customer_id.in_(list(emails)))
    ).all()
    if not rows:
        return {}
    owners = sorted({row.customer_id for row in rows})
    db.session.execute(
        update(table)
        .where(table.c.customer_id == bindparam("owner"))
        .values(**{name: bindparam("email") for name in ORDER_EMAIL}, **ORDER_CLEARED),
        [{"owner": owner, "email": emails[owner]} for owner in owners],
    )
    orders = {
        row.id: (
            {a for a in (row.billing_address_id, row.shipping_address_id) if a is not None},
            row.customer_id,
        )
        for row in rows
    }
    copies = set().union(*(copy for copy, _ in orders.values()))
    if copies:
        addresses = Address.__table__
        db.session.execute(update(addresses).where(addresses.c.id.in_(copies)).values(**ADDRESS_COPY))
    return orders


def _delete_address_book(customer_ids: list[int], orders: dict[int, tuple[set[int], int]]) -> dict[int, int]:
    book, addresses = CustomerAddress.__table__, Address.__table__
    rows = db.session.execute(
        select(book.c.customer_id, book.c.address_id).where(book.c.customer_id.in_(customer_ids))
    ).all()
    if not rows:
        return {}
    db.session.execute(delete(book).where(book.c.customer_id.in_(customer_ids)))
    # An address an order also points at was overwritten with the order copies; deleting it would lose the country.
    doomed = {row.address_id for row in rows} - set().union(*(copy for copy, _ in orders.values()))
    if doomed:
        db.session.execute(delete(addresses).where(addresses.c.id.in_(doomed)))
    counts: dict[int, int] = {}
    for row in rows:
        counts[row.customer_id] = counts.get(row.customer_id, 0) + 1
    return counts


# Tables whose old row versions the erasure leaves behind (PostgreSQL dead tuples).
TOUCHED = (
    "customers",
    "addresses",
    "customer_addresses",
    "orders",
    "customer_password_resets",
    "customer_tags",
    "customer_subscriptions",
    "attachments",
    "action_tokens",
    "passkeys",
    "login_sessions",
    "oauth_tokens",
    "outbox_messages",
)


def scrub_storage() -> None:
    """After a committed batch, make the storage forget the old values too.

    SQLite (the FTS5 email index was merged in the erasure, `traces.purge_search_index`): checkpoint the WAL
    with TRUNCATE (old page images stay in the -wal file until then); `secure_delete` (set on every connection,
    `portal.db`) already zeroed freed cells. PostgreSQL: VACUUM the touched tables, so the dead row versions are
    pruned and their space reused; bytes on disk until a page is rewritten, and the WAL archive and backups, follow
    the operator's retention (SECURITY.md)."""
    engine = db.session.get_bind().engine
    db.session.commit()
    if engine.dialect.name == "sqlite":
        db.checkpoint(engine)
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM {', '.join(TOUCHED)}")
