"""The audit trail: one helper every service uses to say who did what to which record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal import db
from portal.models import AuditEvent, Customer, OutboxMessage, User
from portal.models.orgs import Organization


@dataclass(frozen=True)
class Actor:
    """Who performs an operation: a user, a customer, an API application, the worker or the system (CLI)."""

    type: str
    id: str | None = None
    user: User | None = None
    customer: Customer | None = None

    @classmethod
    def of_user(cls, user: User) -> Actor:
        return cls("user", user.public_id, user=user)

    @classmethod
    def of_customer(cls, customer: Customer) -> Actor:
        return cls("customer", customer.public_id, customer=customer)

    @classmethod
    def application(cls, public_id: str, user: User | None = None) -> Actor:
        return cls("application", public_id, user=user)


SYSTEM = Actor("system")
WORKER = Actor("worker")


def record(
    actor: Actor,
    org: Organization | None,
    action: str,
    resource: Any,
    changed_fields: list[str] | tuple[str, ...] = (),
    **details: Any,
) -> AuditEvent:
    """Write an audit event. `details` must never hold personal values: statuses, counts, ids only."""
    event = AuditEvent(
        organization_id=org.id if org else None,
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        resource_type=resource.__tablename__,
        resource_id=resource.public_id,
        changed_fields=sorted(changed_fields),
        details=details,
    )
    db.session.add(event)
    return event


def emit(
    org: Organization, topic: str, resource: Any, *, customer: Customer | None = None, **payload: Any
) -> OutboxMessage:
    """Queue a domain event (future webhooks) in the outbox, in the caller's transaction."""
    message = OutboxMessage(
        organization_id=org.id,
        customer_id=customer.id if customer else None,
        kind="event",
        topic=topic,
        payload={"type": resource.__tablename__, "id": resource.public_id, **payload},
    )
    db.session.add(message)
    return message
