"""The audit trail: one helper every service uses to say who did what to which record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from portal import db
from portal.models import Application, AuditEvent, Customer, OutboxMessage, User
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


ACTOR_WORDS = {"customer": "the customer", "system": "the system", "worker": "the system"}


def actor_names(events: list[AuditEvent]) -> dict[tuple[str, str | None], str]:
    """Who did each event, as staff read it: a user's email, an application's name, "the customer", "the system"
    (one query per kind, not per row). An actor who no longer exists reads "a former user" / "a revoked app"."""
    ids = {
        kind: {e.actor_id for e in events if e.actor_type == kind and e.actor_id}
        for kind in ("user", "application")
    }
    emails = dict(
        db.session.execute(select(User.public_id, User.email).where(User.public_id.in_(ids["user"]))).all()
    )
    apps = dict(
        db.session.execute(
            select(Application.public_id, Application.name).where(
                Application.public_id.in_(ids["application"])
            )
        ).all()
    )
    names: dict[tuple[str, str | None], str] = {}
    for event in events:
        key = (event.actor_type, event.actor_id)
        if event.actor_type == "user":
            names[key] = emails.get(event.actor_id, "a former user")
        elif event.actor_type == "application":
            names[key] = f"the {apps[event.actor_id]} app" if event.actor_id in apps else "a revoked app"
        else:
            names[key] = ACTOR_WORDS.get(event.actor_type, event.actor_type)
    return names


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
