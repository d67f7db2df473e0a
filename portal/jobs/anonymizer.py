"""The anonymization job: erases a customer's personal data once their request is due. Like the mailer, it is an edge
and commits; what it erases is classified column by column in `portal.jobs.privacy`.

Requests are processed in batches (ANONYMIZATION_BATCH, default 50: the statements are set-based, so a batch costs
about what one request does), each batch in two transactions:
1. start: claim due requests *and* lock their customers with `FOR UPDATE SKIP LOCKED` on both rows (a worker never
   waits, so it cannot deadlock with a cancel or an edit that holds the customer), re-check that it is still
   `requested`, mark it `started`; commit. From then on a cancel is refused.
2. erase: lock the customers, replace or delete every personal value and mark the requests `completed`, in one
   transaction: nobody ever sees a half-anonymized customer.
If a batch fails, its requests are retried one by one, so a bad customer fails only its own request.

A worker killed inside step 1 leaves the request `requested`; killed later, `started`. A `started` request is claimed
again once its lease has run out (`started_at` older than ANONYMIZATION_LEASE seconds, default 300): the claim goes
straight to step 2. Steps re-check the status under the lock, so every transition happens once, with one audit event
and one outbox event. An exception marks the request `failed` (reason: exception class and step, no personal data);
the admin can request again.

Crash drill: PORTAL_ANONYMIZATION_FAULT=<point> makes the worker SIGKILL itself at that point (`<point>:raise` raises
`InjectedFault` instead). Points: `claimed` (inside step 1), `started` (between the steps), `erased` (inside step 2),
`completed` (after step 2).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import and_, bindparam, case, delete, func, null, or_, select, text, update

from portal import db
from portal.db import new_public_id
from portal.models import (
    ActionToken,
    Address,
    AnonymizationRequest,
    Customer,
    CustomerAddress,
    LoginSession,
    OAuthToken,
    Order,
    OutboxMessage,
    PasswordReset,
)
from portal.models.customers import AnonymizationStatus
from portal.models.orgs import Organization
from portal.services.audit import WORKER, emit, record

log = logging.getLogger(__name__)

ANONYMIZED_DOMAIN = "anonymized.invalid"  # RFC 2606: can never be a real mailbox
DEFAULT_LEASE = 300
DEFAULT_BATCH = 50
NEUTRAL = "Anonymized"
# Order address copies: neutral text where the column is required, NULL elsewhere; country_code and business stay.
ADDRESS_COPY = {
    "first_name": NEUTRAL,
    "last_name": NEUTRAL,
    "company": case((Address.__table__.c.business, NEUTRAL), else_=null()),
    "line_1": NEUTRAL,
    "line_2": None,
    "city": NEUTRAL,
    "zip_code": None,
    "state_code": None,
    "phone": NEUTRAL,
    "email": None,
    "notes": None,
    "lat": None,
    "lng": None,
    "billing_info": None,
    "reference": None,
    "reference_origin": None,
    "metadata": {},
}
# What an event payload may keep: ids only.
EVENT_KEYS = frozenset({"type", "id", "request"})
ERASED_FIELDS = [
    "email",
    "password",
    "email_verified_at",
    "shopper_reference",
    "profile_id",
    "reference",
    "reference_origin",
    "tax_exemption_code",
    "metadata",
    "customer_group",
    "customer_addresses",
    "anonymization_status",
]


class InjectedFault(RuntimeError):
    """Raised by the crash-drill hook in `<point>:raise` mode."""


def fault(app: Flask, point: str) -> None:
    """The crash-drill hook (PORTAL_ANONYMIZATION_FAULT): a real SIGKILL, so no `finally` and no rollback runs."""
    wanted = app.config.get("ANONYMIZATION_FAULT")
    if wanted == point:
        os.kill(os.getpid(), signal.SIGKILL)
    if wanted == f"{point}:raise":
        raise InjectedFault(point)


def claim(lease: timedelta, limit: int = 1) -> list[tuple[AnonymizationRequest, Customer]]:
    """Up to `limit` due requests with their customers, all row-locked; rows another transaction holds are skipped."""
    now = db.utcnow()
    due = or_(
        and_(
            AnonymizationRequest.status == AnonymizationStatus.REQUESTED, AnonymizationRequest.due_at <= now
        ),
        and_(
            AnonymizationRequest.status == AnonymizationStatus.STARTED,
            AnonymizationRequest.started_at <= now - lease,
        ),
    )
    return _claim(due, limit)


def _claim(condition: Any, limit: int) -> list[tuple[AnonymizationRequest, Customer]]:
    rows = db.session.execute(
        select(AnonymizationRequest, Customer)
        .join(Customer, Customer.id == AnonymizationRequest.customer_id)
        .where(condition)
        .order_by(AnonymizationRequest.due_at, AnonymizationRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=[AnonymizationRequest, Customer])
        .execution_options(populate_existing=True)
    ).all()
    return [(row[0], row[1]) for row in rows]


def lock(request_ids: list[int]) -> list[tuple[AnonymizationRequest, Customer]]:
    """Wait for the customers' row locks (the order every writer uses: customer, then request) and re-read both."""
    customers = db.session.scalars(
        select(Customer)
        .join(AnonymizationRequest, AnonymizationRequest.customer_id == Customer.id)
        .where(AnonymizationRequest.id.in_(request_ids))
        .order_by(Customer.id)
        .with_for_update(of=Customer)
        .execution_options(populate_existing=True)
    ).all()
    requests = db.session.scalars(
        select(AnonymizationRequest)
        .where(AnonymizationRequest.id.in_(request_ids))
        .order_by(AnonymizationRequest.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    by_id = {customer.id: customer for customer in customers}
    return [(request, by_id[request.customer_id]) for request in requests]


def start(request: AnonymizationRequest, customer: Customer) -> None:
    """Step 1 on a claimed request: `requested` → `started`. The caller flushes and commits."""
    request.status = customer.anonymization_status = AnonymizationStatus.STARTED
    request.started_at = db.utcnow()
    request.attempts += 1
    org = _org(customer)
    record(
        WORKER,
        org,
        "customer.anonymization_started",
        customer,
        ["anonymization_status"],
        request=request.public_id,
    )
    emit(org, "customers.anonymization_started", customer, customer=customer, request=request.public_id)


def complete(pairs: list[tuple[AnonymizationRequest, Customer]]) -> None:
    """Step 2 on locked, `started` requests: erase, then `started` → `completed`. Flushes; the caller commits."""
    counts = erase([customer for _, customer in pairs])
    now = db.utcnow()
    for request, customer in pairs:
        request.status = customer.anonymization_status = AnonymizationStatus.COMPLETED
        request.completed_at = now
        org = _org(customer)
        details = counts[customer.id]
        record(
            WORKER,
            org,
            "customer.anonymization_completed",
            customer,
            ERASED_FIELDS,
            request=request.public_id,
            **details,
        )
        emit(org, "customers.anonymization_completed", customer, customer=customer, request=request.public_id)
    db.session.flush()


def erase(customers: list[Customer]) -> dict[int, dict[str, int]]:
    """Replace or delete every personal value of these customers (see `portal.jobs.privacy`), set-based: the same dozen
    statements for one customer or fifty. Returns counts per customer (no values) for the audit events."""
    now = db.utcnow()
    emails = {}
    for customer in customers:
        customer.email = emails[customer.id] = f"anon-{secrets.token_hex(16)}@{ANONYMIZED_DOMAIN}"
        customer.password_hash = None
        customer.email_verified_at = None
        customer.login_id = new_public_id(24)  # ends every session cookie at once
        customer.shopper_reference = new_public_id(24)
        customer.profile_id = new_public_id(24)
        customer.tax_exemption_code = customer.reference = customer.reference_origin = None
        customer.metadata_ = {}
        customer.customer_group_id = None
    ids = list(emails)
    db.session.flush()
    _end_sessions(ids, now)
    db.session.execute(delete(PasswordReset.__table__).where(PasswordReset.__table__.c.customer_id.in_(ids)))
    tokens = ActionToken.__table__
    db.session.execute(
        delete(tokens).where(tokens.c.principal_type == "customer", tokens.c.principal_id.in_(ids))
    )
    orders = _erase_orders(emails)
    _erase_outbox(ids)
    book = _delete_address_book(ids, orders)
    for customer in customers:
        db.session.expire(customer, ["customer_addresses"])
    return {
        id: {"orders": sum(1 for _, owner in orders.values() if owner == id), "addresses": book.get(id, 0)}
        for id in ids
    }


def _end_sessions(customer_ids: list[int], now: Any) -> None:
    """Like customers.end_all_sessions, and also clears the sessions' network details and the tokens' custom claims."""
    sessions, tokens = LoginSession.__table__, OAuthToken.__table__
    db.session.execute(
        update(sessions)
        .where(sessions.c.principal_type == "customer", sessions.c.principal_id.in_(customer_ids))
        .values(revoked_at=func.coalesce(sessions.c.revoked_at, now), ip_address=None, user_agent=None)
    )
    db.session.execute(
        update(tokens)
        .where(tokens.c.owner_type == "customer", tokens.c.owner_id.in_(customer_ids))
        .values(revoked_at=func.coalesce(tokens.c.revoked_at, now), custom_claim=null())
    )


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
        .values(customer_email=bindparam("email"), metadata={}),
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


def _erase_outbox(customer_ids: list[int]) -> None:
    """Undelivered emails are deleted (they must not reach the old address), delivered ones emptied (the row stays as
    a record that something was sent); event payloads keep ids only."""
    outbox = OutboxMessage.__table__
    mine = outbox.c.customer_id.in_(customer_ids)
    emails = and_(mine, outbox.c.kind == "email")
    db.session.execute(delete(outbox).where(emails, outbox.c.delivered_at.is_(None)))
    db.session.execute(update(outbox).where(emails).values(payload={}, recipients=[]))
    for message_id, payload in db.session.execute(
        select(outbox.c.id, outbox.c.payload).where(mine, outbox.c.kind != "email")
    ).all():
        kept = {name: value for name, value in (payload or {}).items() if name in EVENT_KEYS}
        if kept != payload:
            db.session.execute(update(outbox).where(outbox.c.id == message_id).values(payload=kept))


def _org(customer: Customer) -> Organization:
    return customer.organization


def fail(request_id: int, step: str, error: BaseException) -> None:
    """Mark a request `failed` after its step was rolled back. The reason holds the exception's class only: its
    message may quote personal values (an IntegrityError does)."""
    [(request, customer)] = lock([request_id])
    if request.status not in (AnonymizationStatus.REQUESTED, AnonymizationStatus.STARTED):
        return
    reason = f"{type(error).__name__} during {step}"[:255]
    request.status = customer.anonymization_status = AnonymizationStatus.FAILED
    request.failed_at = db.utcnow()
    request.failure_reason = reason
    org = _org(customer)
    record(
        WORKER,
        org,
        "customer.anonymization_failed",
        customer,
        ["anonymization_status"],
        request=request.public_id,
        reason=reason,
    )
    emit(org, "customers.anonymization_failed", customer, customer=customer, request=request.public_id)
    db.session.flush()
    log.warning("anonymization %s failed: %s", request.public_id, reason)


def process(app: Flask, pairs: list[tuple[AnonymizationRequest, Customer]]) -> int:
    """Run the steps left for claimed requests, as a batch; returns how many this call completed. When a batch
    fails, each request is retried alone, so one bad customer fails only its own request."""
    ids, step = [request.id for request, _ in pairs], "start"
    try:
        for request, _ in pairs:
            if request.status is AnonymizationStatus.STARTED:  # re-claimed after a dead worker's lease
                request.attempts += 1
        if any(request.status is AnonymizationStatus.REQUESTED for request, _ in pairs):
            for request, customer in pairs:
                if request.status is AnonymizationStatus.REQUESTED:
                    start(request, customer)
            db.session.flush()
            fault(app, "claimed")
            db.session.commit()
            step = "erase"
            fault(app, "started")
            pairs = [pair for pair in lock(ids) if pair[0].status is AnonymizationStatus.STARTED]
        step = "erase"
        if pairs:
            complete(pairs)
            fault(app, "erased")
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        if len(ids) > 1:
            return sum(process(app, _claim(_mine(request_id), 1)) for request_id in ids)
        fail(ids[0], step, error)
        db.session.commit()
        return 0
    for request, _ in pairs:
        log.info("anonymization %s completed", request.public_id)
    fault(app, "completed")
    return len(pairs)


def _mine(request_id: int) -> Any:
    """A request this worker claimed or started itself (its lease is fresh, so no other worker takes it)."""
    return and_(
        AnonymizationRequest.id == request_id,
        AnonymizationRequest.status.in_([AnonymizationStatus.REQUESTED, AnonymizationStatus.STARTED]),
    )


def process_due(app: Flask) -> int:
    """The worker job: process due requests in batches (ANONYMIZATION_BATCH, default 50) until none is left;
    returns how many were completed."""
    lease = timedelta(seconds=float(app.config.get("ANONYMIZATION_LEASE", DEFAULT_LEASE)))
    size = int(app.config.get("ANONYMIZATION_BATCH", DEFAULT_BATCH))
    completed = 0
    db.session.flush()
    while claimed := claim(lease, size):
        completed += process(app, claimed)
    if completed:
        _purge_search_index()
    db.session.commit()
    return completed


def _purge_search_index() -> None:
    """SQLite's FTS5 email index keeps deleted trigrams in old segments until they merge: merge them now."""
    if db.session.get_bind().dialect.name != "sqlite":
        return
    if db.session.scalar(text("SELECT 1 FROM sqlite_master WHERE name = 'customers_email_fts'")):
        db.session.execute(text("INSERT INTO customers_email_fts(customers_email_fts) VALUES ('optimize')"))
