"""The anonymization job: erases a customer's personal data once their request is due. Like the mailer, it is an edge
and commits. Three modules: this one runs the steps below; `portal.jobs.claims` claims and locks requests;
`portal.jobs.eraser` erases, column by column as `portal.jobs.privacy` classifies them, and then scrubs the storage.

Requests are processed in batches (ANONYMIZATION_BATCH, default 50: the statements are set-based, so a batch costs
about what one request does), each batch in two transactions:
1. start: claim due requests *and* lock their customers with `FOR UPDATE SKIP LOCKED` on both rows (a worker never
   waits, so it cannot deadlock with a cancel or an edit that holds the customer), re-check that it is still
   `requested`, mark it `started`; commit. From then on a cancel is refused.
2. erase: lock the customers, replace or delete every personal value and mark the requests `completed`, in one
   transaction: nobody ever sees a half-anonymized customer.
If a batch fails, its requests are retried one by one, so a bad customer fails only its own request. After the
batches, the storage is scrubbed (SQLite: FTS merge and WAL checkpoint; PostgreSQL: VACUUM of the touched tables).

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
import signal
from datetime import timedelta

from flask import Flask

from portal import db, jobs
from portal.jobs import claims, eraser
from portal.models import AnonymizationRequest, Customer
from portal.models.customers import AnonymizationStatus
from portal.models.orgs import Organization
from portal.services.audit import WORKER, emit, record

log = logging.getLogger(__name__)

DEFAULT_LEASE = 300
DEFAULT_BATCH = 50


class InjectedFault(RuntimeError):
    """Raised by the crash-drill hook in `<point>:raise` mode."""


def fault(app: Flask, point: str) -> None:
    """The crash-drill hook (PORTAL_ANONYMIZATION_FAULT): a real SIGKILL, so no `finally` and no rollback runs."""
    wanted = app.config.get("ANONYMIZATION_FAULT")
    if wanted == point:
        os.kill(os.getpid(), signal.SIGKILL)
    if wanted == f"{point}:raise":
        raise InjectedFault(point)


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


def complete(pairs: list[claims.Pair]) -> None:
    """Step 2 on locked, `started` requests: erase, then `started` → `completed`. Flushes; the caller commits."""
    counts = eraser.erase([customer for _, customer in pairs])
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
            eraser.ERASED_FIELDS,
            request=request.public_id,
            **details,
        )
        emit(org, "customers.anonymization_completed", customer, customer=customer, request=request.public_id)
    db.session.flush()


def _org(customer: Customer) -> Organization:
    return customer.organization


def fail(request_id: int, step: str, error: BaseException) -> None:
    """Mark a request `failed` after its step was rolled back. The reason holds the exception's class only: its
    message may quote personal values (an IntegrityError does)."""
    [(request, customer)] = claims.lock([request_id])
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


def process(app: Flask, pairs: list[claims.Pair]) -> int:
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
            pairs = [pair for pair in claims.lock(ids) if pair[0].status is AnonymizationStatus.STARTED]
        step = "erase"
        if pairs:
            complete(pairs)
            fault(app, "erased")
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        if len(ids) > 1:
            return sum(process(app, claims.reclaim(request_id)) for request_id in ids)
        fail(ids[0], step, error)
        db.session.commit()
        return 0
    for request, _ in pairs:
        log.info("anonymization %s completed", request.public_id)
    fault(app, "completed")
    return len(pairs)


def process_due(app: Flask) -> int:
    """The worker job: process due requests in batches (ANONYMIZATION_BATCH, default 50) until none is left
    or the worker is stopping; returns how many were completed."""
    lease = timedelta(seconds=float(app.config.get("ANONYMIZATION_LEASE", DEFAULT_LEASE)))
    size = int(app.config.get("ANONYMIZATION_BATCH", DEFAULT_BATCH))
    completed = 0
    db.session.flush()
    while not jobs.STOPPING.is_set() and (claimed := claims.claim(lease, size)):
        completed += process(app, claimed)
    db.session.commit()
    if completed:
        eraser.scrub_storage()
    return completed
