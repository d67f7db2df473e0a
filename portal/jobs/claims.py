"""Claiming anonymization requests for a worker: who may take which request, and the row locks that make every
transition happen once (the lease rules are in `portal.jobs.anonymizer`'s docstring)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from portal import db
from portal.models import AnonymizationRequest, Customer
from portal.models.customers import AnonymizationStatus

Pair = tuple[AnonymizationRequest, Customer]


def claim(lease: timedelta, limit: int = 1) -> list[Pair]:
    """Up to `limit` due requests with their customers, all row-locked; rows another transaction holds are skipped.
    Due: `requested` and past its delay, or `started` by a worker whose lease ran out."""
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


def reclaim(request_id: int) -> list[Pair]:
    """A request this worker claimed or started itself (its lease is fresh, so no other worker takes it)."""
    mine = and_(
        AnonymizationRequest.id == request_id,
        AnonymizationRequest.status.in_([AnonymizationStatus.REQUESTED, AnonymizationStatus.STARTED]),
    )
    return _claim(mine, 1)


def _claim(condition: Any, limit: int) -> list[Pair]:
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


def lock(request_ids: list[int]) -> list[Pair]:
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
