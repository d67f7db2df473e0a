"""Admin customer search: one box over email, shopper_reference and reference, filters, keyset pagination.

Built to stay fast at a million customers per organization (migration 0002_search_indexes):
- email substring: PostgreSQL pg_trgm GIN index; SQLite FTS5 trigram table (needs 3+ characters, else a scan);
- email prefix: a range over the (organization_id, email) unique index, on both databases;
- pages are keyset (`after` cursor), never OFFSET, and nothing counts the whole result.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, partial
from typing import Any

from sqlalchemy import Select, and_, column, or_, select, table, tuple_, union_all
from sqlalchemy.orm import load_only

from portal import db
from portal.errors import Invalid, check_length
from portal.models import Customer, CustomerGroup, Tag, customer_tags
from portal.models.customers import AnonymizationStatus, CustomerStatus
from portal.models.orgs import Organization
from portal.services import validation
from portal.services.groups import group_options

PAGE_SIZE = 50
SORTS = {"newest": "Newest first", "oldest": "Oldest first", "email": "Email A→Z"}
MATCHES = {"contains": "contains", "prefix": "starts with"}
KINDS = {"registered": "Registered", "guest": "Guest"}
# The search form's options, from the tables `parse` checks against, so a template never re-types them.
CHOICES = {
    "match": MATCHES,
    "status": {status.value: status.value for status in CustomerStatus},
    "kind": KINDS,
    "anonymization": {status.value: status.value for status in AnonymizationStatus},
    "sort": SORTS,
}


@dataclass(frozen=True)
class Query:
    """A parsed search. Every field is already validated; build one with `parse`."""

    q: str = ""
    match: str = "contains"
    status: CustomerStatus | None = None
    group: str = ""  # a group's public id, "none", or "" for any
    tag: str = ""  # a tag's public id, or "" for any
    kind: str = ""
    anonymization: str = ""  # an AnonymizationStatus value, "none", or ""
    created_from: date | None = None
    created_to: date | None = None
    sort: str = "newest"
    after: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def args(self, *, after: str | None = None) -> dict[str, str]:
        """The query string of this search (for links, hx-push-url, the CSV export, the next page)."""
        values = {
            "q": self.q,
            "match": self.match if self.match != "contains" else "",
            "status": self.status.value if self.status else "",
            "group": self.group,
            "tag": self.tag,
            "kind": self.kind,
            "anonymization": self.anonymization,
            "created_from": self.created_from.isoformat() if self.created_from else "",
            "created_to": self.created_to.isoformat() if self.created_to else "",
            "sort": self.sort if self.sort != "newest" else "",
            "after": self.after if after is None else after,
        }
        return {k: v for k, v in values.items() if v}


@dataclass
class Page:
    customers: list[Customer]
    next_cursor: str | None
    # The organization's groups, by name: the search page's pickers show them, and rows name theirs from them.
    groups: list[CustomerGroup] = field(default_factory=list)

    @cached_property
    def group_names(self) -> dict[int, str]:
        return {group.id: group.name for group in self.groups}


def _choice(value: str, allowed: Any, name: str) -> str:
    if value and value not in allowed:
        raise Invalid("is not one of the allowed values", field=name, code="inclusion")
    return value


def parse(args: Any) -> Query:
    """Validate search parameters (a request's args, or any mapping). Raises Invalid naming the field."""
    get = partial(validation.query_arg, args)
    q = get("q")
    check_length(q, "q", 0, 254)
    status = _choice(get("status"), {s.value for s in CustomerStatus}, "status")
    anonymization = _choice(
        get("anonymization"), {s.value for s in AnonymizationStatus} | {"none"}, "anonymization"
    )
    created_from, created_to = (
        validation.query_date(get("created_from"), "created_from"),
        validation.query_date(get("created_to"), "created_to"),
    )
    if created_from and created_to and created_to < created_from:
        raise Invalid("must be on or after the start date", field="created_to", code="invalid")
    return Query(
        q=q.lower(),
        match=_choice(get("match"), MATCHES, "match") or "contains",
        status=CustomerStatus(status) if status else None,
        group=get("group")[:16],
        tag=get("tag")[:16],
        kind=_choice(get("kind"), KINDS, "kind"),
        anonymization=anonymization,
        created_from=created_from,
        created_to=created_to,
        sort=_choice(get("sort"), SORTS, "sort") or "newest",
        after=get("after")[:200],
    )


# The FTS5 table of migration 0002 (SQLite only); the hidden column named like the table takes MATCH queries.
EMAIL_FTS = table("customers_email_fts", column("rowid"), column("customers_email_fts"))


def _prefix_range(column: Any, value: str) -> Any:
    """`column LIKE 'value%'` as an index range, which both databases serve from a b-tree."""
    return and_(column >= value, column < value + "\U0010ffff")


def _email_ids(dialect: str, org: Organization, query: Query) -> Any:
    """A SELECT of the ids of customers whose email matches (the FTS part is not org-scoped: the caller is)."""
    q = query.q
    in_org = Customer.organization_id == org.id
    if query.match == "prefix":
        return select(Customer.id).where(in_org, _prefix_range(Customer.email, q))
    if dialect == "sqlite" and len(q) >= 3:
        phrase = '"' + q.replace('"', '""') + '"'  # an FTS5 string: the trigrams of q, in order
        return select(EMAIL_FTS.c.rowid).where(EMAIL_FTS.c.customers_email_fts.op("MATCH")(phrase))
    return select(Customer.id).where(
        in_org, Customer.email.like(f"%{validation.like_escape(q)}%", escape="\\")
    )


def email_condition(dialect: str, matcher: str, value: str) -> Any:
    """An API email filter (`cont`, `i_cont`, `start`) in the form an index serves, or None for the generic one.

    Emails are stored lower-cased, so a lower-cased value matches case-insensitively without `lower(email)`,
    which no index covers: PostgreSQL's trigram GIN index serves `email LIKE '%v%'`, SQLite's FTS5 trigram table
    a substring of 3+ characters, and both databases' (organization_id, email) b-tree a prefix."""
    value = value.lower()
    if matcher == "start":
        return _prefix_range(Customer.email, value)
    if matcher not in ("cont", "i_cont"):
        return None
    if dialect == "sqlite" and len(value) >= 3:
        phrase = '"' + value.replace('"', '""') + '"'
        return Customer.id.in_(
            select(EMAIL_FTS.c.rowid).where(EMAIL_FTS.c.customers_email_fts.op("MATCH")(phrase))
        )
    return Customer.email.like(f"%{validation.like_escape(value)}%", escape="\\")


def _text_condition(dialect: str, org: Organization, query: Query) -> Any:
    """Email (substring or prefix), exact shopper_reference, reference (substring on PostgreSQL, else prefix).

    PostgreSQL ORs the three index scans (BitmapOr). SQLite's planner would rather walk the created-at index and
    probe each row, which is seconds at a million rows, so there the ids are collected first (FTS5 and b-tree
    lookups, UNION) and the caller stops the org index from being used (`organization_id + 0`).
    """
    q = query.q
    if dialect == "postgresql":
        # LIKE both ways: the pg_trgm GIN indexes serve '%q%' and 'q%' alike, so the three terms OR as bitmaps.
        pattern = (
            f"{validation.like_escape(q)}%" if query.match == "prefix" else f"%{validation.like_escape(q)}%"
        )
        return or_(
            Customer.email.like(pattern, escape="\\"),
            Customer.shopper_reference == q,
            Customer.reference.like(pattern, escape="\\"),
        )
    reference = _prefix_range(Customer.reference, q)
    if dialect != "sqlite":
        email = (
            _prefix_range(Customer.email, q)
            if query.match == "prefix"
            else Customer.email.like(f"%{validation.like_escape(q)}%", escape="\\")
        )
        return or_(email, Customer.shopper_reference == q, reference)
    in_org = Customer.organization_id == org.id
    ids = union_all(
        _email_ids(dialect, org, query),
        select(Customer.id).where(in_org, Customer.shopper_reference == q),
        select(Customer.id).where(in_org, reference),
    )
    return Customer.id.in_(ids)


def _group_id(org: Organization, public_id: str) -> int:
    group_id = db.session.scalar(
        select(CustomerGroup.id).where(
            CustomerGroup.organization_id == org.id, CustomerGroup.public_id == public_id
        )
    )
    return group_id if group_id is not None else -1  # an unknown group matches nobody


def _tagged(org: Organization, public_id: str) -> Select:
    """Ids of the customers carrying the org's tag (an unknown tag matches nobody), from the (tag_id, customer_id)
    index."""
    tag_id = select(Tag.id).where(Tag.organization_id == org.id, Tag.public_id == public_id).scalar_subquery()
    return select(customer_tags.c.customer_id).where(customer_tags.c.tag_id == tag_id)


def statement(org: Organization, query: Query) -> Select:
    """The filtered, sorted statement (without cursor or limit)."""
    dialect = db.session.get_bind().dialect.name
    if query.q and dialect == "sqlite":
        # `+ 0`: keep SQLite on the collected ids instead of the (organization_id, created_at) index.
        stmt = select(Customer).where(
            Customer.organization_id + 0 == org.id, _text_condition(dialect, org, query)
        )
    else:
        stmt = select(Customer).where(Customer.organization_id == org.id)
        if query.q:
            stmt = stmt.where(_text_condition(dialect, org, query))
    if query.status:
        stmt = stmt.where(Customer.status == query.status)
    if query.group == "none":
        stmt = stmt.where(Customer.customer_group_id.is_(None))
    elif query.group:
        stmt = stmt.where(Customer.customer_group_id == _group_id(org, query.group))
    if query.tag:
        stmt = stmt.where(Customer.id.in_(_tagged(org, query.tag)))
    if query.kind:
        registered = Customer.password_hash.is_not(None)
        stmt = stmt.where(registered if query.kind == "registered" else Customer.password_hash.is_(None))
    if query.anonymization == "none":
        stmt = stmt.where(Customer.anonymization_status.is_(None))
    elif query.anonymization:
        stmt = stmt.where(Customer.anonymization_status == AnonymizationStatus(query.anonymization))
    if query.created_from:
        stmt = stmt.where(Customer.created_at >= datetime.combine(query.created_from, time(), UTC))
    if query.created_to:
        end = datetime.combine(query.created_to + timedelta(days=1), time(), UTC)
        stmt = stmt.where(Customer.created_at < end)
    return stmt


def _order(query: Query) -> list[Any]:
    if query.sort == "email":
        return [Customer.email.asc()]
    if query.sort == "oldest":
        return [Customer.created_at.asc(), Customer.id.asc()]
    return [Customer.created_at.desc(), Customer.id.desc()]


def _encode(customer: Customer, sort: str) -> str:
    value = customer.email if sort == "email" else customer.created_at.isoformat()
    raw = json.dumps([value, customer.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(stmt: Select, query: Query) -> Select:
    if not query.after:
        return stmt
    try:
        raw = base64.urlsafe_b64decode(query.after + "=" * (-len(query.after) % 4))
        value, last_id = json.loads(raw)
        if query.sort != "email":
            value = datetime.fromisoformat(value)
        if (
            not isinstance(value, str | datetime)
            or not isinstance(last_id, int)
            or not 0 < last_id < validation.BIGINT
        ):
            raise ValueError(query.after)
    except (ValueError, TypeError):
        raise Invalid("is not a valid page cursor", field="after", code="invalid") from None
    if query.sort == "email":
        return stmt.where(Customer.email > value)
    key = tuple_(Customer.created_at, Customer.id)
    return stmt.where(
        key > tuple_(value, last_id) if query.sort == "oldest" else key < tuple_(value, last_id)
    )


# What a results row and a CSV line show (and the cursor's keys): loading only these halves each row's hydration, and
# reading any other column of a listed customer raises instead of querying once per row.
LISTED = (
    Customer.public_id,
    Customer.email,
    Customer.status,
    Customer.password_hash,  # has_password
    Customer.shopper_reference,
    Customer.reference,
    Customer.customer_group_id,
    Customer.anonymization_status,
    Customer.total_orders_count,
    Customer.created_at,
)


def search(org: Organization, query: Query, *, page_size: int = PAGE_SIZE) -> Page:
    """One page of matching customers, and the cursor of the next page (None on the last one)."""
    groups = group_options(org)
    stmt = _after(statement(org, query), query).order_by(*_order(query)).limit(page_size + 1)
    rows = list(db.session.scalars(stmt.options(load_only(*LISTED, raiseload=True))))
    next_cursor = _encode(rows[page_size - 1], query.sort) if len(rows) > page_size else None
    return Page(rows[:page_size], next_cursor, groups)


CSV_COLUMNS = [
    "id",
    "email",
    "status",
    "registered",
    "shopper_reference",
    "reference",
    "customer_group",
    "anonymization_status",
    "total_orders_count",
    "created_at",
]


def csv_safe(value: Any) -> str:
    """Spreadsheet formula injection: a cell starting with = + - @ tab or CR is prefixed with a quote."""
    text_value = "" if value is None else str(value)
    return "'" + text_value if text_value[:1] in ("=", "+", "-", "@", "\t", "\r") else text_value


def export_csv(org: Organization, query: Query, *, batch: int = 1000) -> Iterator[str]:
    """The whole search as CSV, one keyset batch at a time (memory stays flat at any size)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerow(CSV_COLUMNS)
    yield flush()
    current = replace(query, after="")
    while True:
        page = search(org, current, page_size=batch)
        for c in page.customers:
            writer.writerow(
                [
                    csv_safe(v)
                    for v in (
                        c.public_id,
                        c.email,
                        c.status.value,
                        "yes" if c.has_password else "no",
                        c.shopper_reference,
                        c.reference,
                        page.group_names.get(c.customer_group_id, ""),
                        c.anonymization_status.value if c.anonymization_status else "",
                        c.total_orders_count,
                        c.created_at.isoformat(),
                    )
                ]
            )
        yield flush()
        if page.next_cursor is None:
            return
        current = replace(query, after=page.next_cursor)
