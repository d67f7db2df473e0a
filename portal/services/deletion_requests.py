"""Shoppers' own deletion requests. Commerce Layer needs an org user as the anonymization requester, so a shopper
asks, and an org admin approves (→ an anonymization request with that admin as requester) or rejects with a reason."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import Customer, DeletionRequest
from portal.models.customers import AnonymizationStatus, DeletionRequestStatus
from portal.models.orgs import Organization
from portal.services import anonymization, mail, validation
from portal.services.audit import Actor, record


def pending_for(customer: Customer) -> DeletionRequest | None:
    return db.session.scalar(
        select(DeletionRequest).where(
            DeletionRequest.customer_id == customer.id,
            DeletionRequest.status == DeletionRequestStatus.PENDING,
        )
    )


def latest_for(customer: Customer) -> DeletionRequest | None:
    return db.session.scalar(
        select(DeletionRequest)
        .where(DeletionRequest.customer_id == customer.id)
        .order_by(DeletionRequest.id.desc())
    )


def get_request(org: Organization, public_id: str) -> DeletionRequest:
    request = db.session.scalar(
        select(DeletionRequest).where(
            DeletionRequest.organization_id == org.id, DeletionRequest.public_id == public_id
        )
    )
    if request is None:
        raise NotFound("The requested resource was not found", field="id")
    return request


def create(actor: Actor, org: Organization, customer: Customer) -> DeletionRequest:
    """A shopper asks for their data to be deleted; it waits in the admin privacy queue."""
    if customer.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="customer")
    if pending_for(customer) is not None:
        raise Invalid("A deletion request is already pending", field="deletion_request", code="taken")
    if customer.anonymization_status in (*anonymization.OPEN, AnonymizationStatus.COMPLETED):
        raise Invalid("Your data is already being deleted", field="deletion_request", code="invalid")
    request = DeletionRequest(organization_id=org.id, customer=customer)
    db.session.add(request)
    db.session.flush()
    record(actor, org, "deletion_request.create", request)
    return request


def withdraw(actor: Actor, org: Organization, request: DeletionRequest) -> None:
    """The shopper changes their mind while the request is still pending."""
    _require_pending(request)
    request.status = DeletionRequestStatus.WITHDRAWN
    request.decided_at = db.utcnow()
    db.session.flush()
    record(actor, org, "deletion_request.withdraw", request, ["status"])


def approve(actor: Actor, org: Organization, request: DeletionRequest) -> None:
    """An org admin approves: the customer's anonymization is requested with that admin as requester."""
    _require_pending(request)
    anonymization.request_anonymization(actor, org, request.customer)
    request.status = DeletionRequestStatus.APPROVED
    request.decided_by = actor.user
    request.decided_at = db.utcnow()
    db.session.flush()
    record(actor, org, "deletion_request.approve", request, ["status"])


def reject(actor: Actor, org: Organization, request: DeletionRequest, reason: str) -> None:
    """An org admin rejects with a reason; the shopper is told by email."""
    _require_pending(request)
    anonymization.require_admin(actor.user, org)
    request.rejection_reason = validation.text(
        reason, "rejection_reason", max_length=2000, required=True, multiline=True
    )
    request.status = DeletionRequestStatus.REJECTED
    request.decided_by = actor.user
    request.decided_at = db.utcnow()
    db.session.flush()
    record(actor, org, "deletion_request.reject", request, ["status", "rejection_reason"])
    mail.send(org, request.customer.email, "deletion_rejected", customer=request.customer, request=request)


def _require_pending(request: DeletionRequest) -> None:
    if request.status is not DeletionRequestStatus.PENDING:
        raise Invalid("This request was already decided or withdrawn", field="status", code="invalid")


def queue(org: Organization, *, limit: int = 100) -> list[DeletionRequest]:
    """The org's pending deletion requests, oldest first (the admin privacy queue)."""
    return list(
        db.session.scalars(
            select(DeletionRequest)
            .where(
                DeletionRequest.organization_id == org.id,
                DeletionRequest.status == DeletionRequestStatus.PENDING,
            )
            .options(selectinload(DeletionRequest.customer))
            .order_by(DeletionRequest.created_at, DeletionRequest.id)
            .limit(limit)
        )
    )
