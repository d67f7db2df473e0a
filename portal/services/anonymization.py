"""Anonymization requests (GDPR/CCPA): requested and cancelled by an admin user of the customer's organization,
processed by the worker after a delay (`portal.jobs.anonymizer`). `anonymization_status` mirrors the current request for
filters and sorts.

Request and cancel lock the customer row and re-read its current request first: the worker takes the same lock to
start, so a cancel racing the start either wins cleanly or sees `started` and is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal import db
from portal.errors import Forbidden, Invalid
from portal.models import AnonymizationRequest, Customer, User
from portal.models.customers import AnonymizationStatus
from portal.models.orgs import Organization
from portal.models.staff import ApplicationKind, Role
from portal.services.audit import Actor, emit, record

OPEN = (AnonymizationStatus.REQUESTED, AnonymizationStatus.STARTED)


def require_admin(user: User | None, org: Organization) -> User:
    """Commerce Layer: only a user of the customer's own organization may request (here: an admin)."""
    if user is None or not user.is_active or user.role_in(org) is not Role.ADMIN:
        raise Forbidden("Only an admin user of this organization can request or cancel an anonymization")
    return user


def require_token_admin(
    kind: ApplicationKind, user: User | None, org: Organization, role: Role | None
) -> User:
    """Through the API: a token owned by a user of this org with the write role — an integration's JWT-bearer token
    (admin integration, admin user) or a webapp's authorization-code token (the staff member acting is an admin)."""
    if kind not in (ApplicationKind.INTEGRATION, ApplicationKind.WEBAPP) or role is not Role.ADMIN:
        raise Forbidden(
            "Anonymization can only be requested with a token owned by an admin user of this organization "
            "(an integration's JWT bearer flow, or a webapp's authorization code flow)"
        )
    return require_admin(user, org)


def delay(org: Organization) -> timedelta:
    seconds = org.anonymization_delay_seconds
    if seconds is None:
        seconds = int(current_app.config["ANONYMIZATION_DELAY"])
    return timedelta(seconds=seconds)


def lock_current(customer: Customer) -> AnonymizationRequest | None:
    """Lock the customer row and re-read its status and current request: since the caller loaded them, the worker
    or another admin may have moved them on (callers may already hold the lock: taking it again is harmless)."""
    db.session.execute(
        select(Customer)
        .where(Customer.id == customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    db.session.expire(customer, ["anonymization_requests"])
    return db.session.scalar(
        select(AnonymizationRequest)
        .where(AnonymizationRequest.customer_id == customer.id)
        .order_by(AnonymizationRequest.id.desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def request_anonymization(actor: Actor, org: Organization, customer: Customer) -> AnonymizationRequest:
    """Queue the customer's anonymization; the worker processes it once the org's delay has passed."""
    user = require_admin(actor.user, org)
    if customer.organization_id != org.id:
        raise Forbidden("The customer belongs to another organization")
    lock_current(customer)
    if customer.anonymization_status in OPEN:
        raise Invalid(
            "An anonymization request is already pending", field="_request_anonymization", code="invalid"
        )
    if customer.anonymization_status is AnonymizationStatus.COMPLETED:
        raise Invalid("The customer is already anonymized", field="_request_anonymization", code="invalid")
    now = db.utcnow()
    request = AnonymizationRequest(
        organization_id=org.id,
        customer=customer,
        status=AnonymizationStatus.REQUESTED,
        requester_id=user.id,
        requester=user,
        requested_at=now,
        due_at=now + delay(org),
    )
    db.session.add(request)
    customer.anonymization_status = AnonymizationStatus.REQUESTED
    db.session.flush()
    record(
        actor,
        org,
        "customer.anonymization_request",
        customer,
        ["anonymization_status"],
        request=request.public_id,
    )
    return request


def cancel_anonymization(actor: Actor, org: Organization, customer: Customer) -> AnonymizationRequest:
    """Revoke a request that has not started yet."""
    user = require_admin(actor.user, org)
    if customer.organization_id != org.id:
        raise Forbidden("The customer belongs to another organization")
    request = lock_current(customer)
    if request is None or request.status is not AnonymizationStatus.REQUESTED:
        raise Invalid(
            "Only a pending anonymization request can be cancelled",
            field="_cancel_anonymization",
            code="invalid",
        )
    request.status = AnonymizationStatus.CANCELLED
    request.cancelled_at = db.utcnow()
    request.cancellation_requester_id = user.id
    request.cancellation_requester = user
    customer.anonymization_status = AnonymizationStatus.CANCELLED
    db.session.flush()
    record(
        actor,
        org,
        "customer.anonymization_cancel",
        customer,
        ["anonymization_status"],
        request=request.public_id,
    )
    emit(org, "customers.anonymization_cancelled", customer, customer=customer, request=request.public_id)
    return request


def _user_info(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.public_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
    }


def _timestamp(value) -> str | None:
    """Commerce Layer's example formats these as `2025-03-15 11:39:21 UTC`."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else None


def info(customer: Customer) -> dict[str, Any] | None:
    """`anonymization_info` as Commerce Layer shapes it (None when the customer was never requested)."""
    if customer.anonymization_status is None:  # never requested: no request rows to load
        return None
    request = customer.current_anonymization
    if request is None:
        return None
    return {
        "status": request.status.value,
        "requested_at": _timestamp(request.requested_at),
        "started_at": _timestamp(request.started_at),
        "completed_at": _timestamp(request.completed_at),
        "failed_at": _timestamp(request.failed_at),
        "cancelled_at": _timestamp(request.cancelled_at),
        "requester": _user_info(request.requester),
        "cancellation_requester": _user_info(request.cancellation_requester),
    }


def load_info(customers: list[Customer]) -> None:
    """Load, in one query, the requests (and requesters) `info` reads for those of `customers` that have any: a
    page of customers costs no query per row, and none at all when nobody on it was ever requested."""
    ids = [customer.id for customer in customers if customer.anonymization_status is not None]
    if ids:
        db.session.scalars(
            select(Customer)
            .where(Customer.id.in_(ids))
            .options(
                selectinload(Customer.anonymization_requests).options(
                    joinedload(AnonymizationRequest.requester),
                    joinedload(AnonymizationRequest.cancellation_requester),
                )
            )
        ).all()


def queue(org: Organization, state: str, *, limit: int = 100) -> list[AnonymizationRequest]:
    """The org's requests in one state, soonest due first (the admin privacy queue)."""
    try:
        status = AnonymizationStatus(state)
    except ValueError:
        raise Invalid("is not one of the allowed values", field="state", code="inclusion") from None
    return list(
        db.session.scalars(
            select(AnonymizationRequest)
            .where(AnonymizationRequest.organization_id == org.id, AnonymizationRequest.status == status)
            .options(
                selectinload(AnonymizationRequest.customer),
                selectinload(AnonymizationRequest.requester),
            )
            .order_by(AnonymizationRequest.due_at, AnonymizationRequest.id)
            .limit(limit)
        )
    )
