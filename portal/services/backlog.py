"""What is waiting, installation-wide: the operator's view of the worker's queues (exported as Prometheus gauges).

Counts and ages only, never a row's content. Read at scrape time from the database, so every web process reports the
same figures however many workers and instances there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from portal import db
from portal.models import AnonymizationRequest, OutboxMessage
from portal.models.customers import AnonymizationStatus

OPEN = (AnonymizationStatus.REQUESTED, AnonymizationStatus.STARTED)


@dataclass(frozen=True)
class Backlog:
    outbox_pending: dict[str, int]  # undelivered messages by kind (email, event)
    outbox_failing: dict[str, int]  # undelivered messages by kind whose last attempt failed
    anonymizations_open: dict[str, int]  # requested / started, due or not
    anonymizations_due: int  # open and past their due time: the worker's work right now
    oldest_due_age_seconds: float  # 0 when nothing is due
    anonymizations_failed: int


def _outbox_by_kind(*conditions) -> dict[str, int]:
    rows = db.session.execute(
        select(OutboxMessage.kind, func.count())
        .where(OutboxMessage.delivered_at.is_(None), *conditions)
        .group_by(OutboxMessage.kind)
    )
    return {kind: count for kind, count in rows}


def read(now: datetime) -> Backlog:
    requests = AnonymizationRequest
    open_rows = db.session.execute(
        select(requests.status, func.count()).where(requests.status.in_(OPEN)).group_by(requests.status)
    )
    due_count, oldest_due = db.session.execute(
        select(func.count(), func.min(requests.due_at)).where(
            requests.status.in_(OPEN), requests.due_at <= now
        )
    ).one()
    failed = db.session.scalar(
        select(func.count()).select_from(requests).where(requests.status == AnonymizationStatus.FAILED)
    )
    return Backlog(
        outbox_pending=_outbox_by_kind(),
        outbox_failing=_outbox_by_kind(OutboxMessage.attempts > 0),
        anonymizations_open={str(status): count for status, count in open_rows},
        anonymizations_due=due_count,
        oldest_due_age_seconds=(now - oldest_due).total_seconds() if oldest_due is not None else 0.0,
        anonymizations_failed=failed or 0,
    )
