"""The audit trail: one helper every service uses to say who did what to which record, and the log's query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select, true

from portal import db
from portal.errors import Invalid
from portal.models import Application, AuditEvent, Customer, OutboxMessage, User
from portal.models.orgs import Organization
from portal.services import validation


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
    *,
    subject: Customer | None = None,
    **details: Any,
) -> AuditEvent:
    """Write an audit event. `details` must never hold personal values: statuses, counts, ids only.

    The event is also filed under the customer it is about (`subject`, else the one `about` finds), so the customer's
    timeline shows it even when the record itself is gone (a deleted address)."""
    subject = subject or about(actor, resource)
    event = AuditEvent(
        organization_id=org.id if org else None,
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        resource_type=resource.__tablename__,
        resource_id=resource.public_id,
        customer_id=subject.public_id if subject is not None else None,
        changed_fields=sorted(changed_fields),
        details=details,
    )
    db.session.add(event)
    return event


def about(actor: Actor, resource: Any) -> Customer | None:
    """The customer an event is about: the customer itself, the owner of the record (an address-book entry, an order,
    a reset), else the customer acting (a shopper's token creating a standalone address)."""
    if isinstance(resource, Customer):
        return resource
    owner = getattr(resource, "customer", None)
    return owner if isinstance(owner, Customer) else actor.customer


def apply_changes(
    actor: Actor,
    org: Organization,
    action: str,
    resource: Any,
    values: dict[str, Any],
    *,
    subject: Customer | None = None,
) -> list[str]:
    """Set the values that differ from the model's and record one `action` event naming what changed.

    Keys are model attributes; the event names public fields (`metadata_` is recorded as `metadata`). Returns
    those names; nothing changed means no write and no event.
    """
    changed = [key for key, value in values.items() if getattr(resource, key) != value]
    for key in changed:
        setattr(resource, key, values[key])
    names = [key.rstrip("_") for key in changed]
    if changed:
        db.session.flush()
        record(actor, org, action, resource, names, subject=subject)
    return names


def customer_events(
    org: Organization, customer: Customer, limit: int, resource_types: tuple[str, ...] = ()
) -> list[AuditEvent]:
    """The newest events about one customer (its own row, its address book, its orders...): the shopper's "account
    changes" and the admin page's timeline. `resource_types` narrows them to events on these tables."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.organization_id == org.id, AuditEvent.customer_id == customer.public_id)
            .where(AuditEvent.resource_type.in_(resource_types) if resource_types else true())
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )


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


@dataclass(frozen=True)
class AuditQuery:
    """A parsed audit-log filter; build one with `parse_audit`."""

    action: str = ""
    actor: str = ""
    resource: str = ""
    created_from: date | None = None
    created_to: date | None = None
    before: int | None = None

    def args(self, *, before: int | None = None) -> dict[str, str]:
        values = {
            "action": self.action,
            "actor": self.actor,
            "resource": self.resource,
            "created_from": self.created_from.isoformat() if self.created_from else "",
            "created_to": self.created_to.isoformat() if self.created_to else "",
            "before": str(before if before is not None else self.before or ""),
        }
        return {k: v for k, v in values.items() if v}


def parse_audit(args: Any) -> AuditQuery:
    get = lambda name: validation.query_arg(args, name)[:64]  # noqa: E731
    before = get("before")
    if before and not (before.isdigit() and 0 < int(before) < validation.BIGINT):
        raise Invalid("is not a valid page cursor", field="before", code="invalid")
    created_from, created_to = (
        validation.query_date(get("created_from"), "created_from"),
        validation.query_date(get("created_to"), "created_to"),
    )
    return AuditQuery(
        action=get("action"),
        actor=get("actor"),
        resource=get("resource"),
        created_from=created_from,
        created_to=created_to,
        before=int(before) if before else None,
    )


def audit_log(org: Organization, query: AuditQuery, *, page_size: int = 50) -> tuple[list[Any], int | None]:
    """Audit events of the org, newest first, keyset-paged by id. `actor`/`resource` match an id or a type."""
    stmt = select(AuditEvent).where(AuditEvent.organization_id == org.id)
    if query.action:
        stmt = stmt.where(AuditEvent.action.like(f"{validation.like_escape(query.action)}%", escape="\\"))
    if query.actor:
        stmt = stmt.where(or_(AuditEvent.actor_id == query.actor, AuditEvent.actor_type == query.actor))
    if query.resource:
        stmt = stmt.where(
            or_(AuditEvent.resource_id == query.resource, AuditEvent.resource_type == query.resource)
        )
    if query.created_from:
        stmt = stmt.where(AuditEvent.created_at >= datetime.combine(query.created_from, time(), UTC))
    if query.created_to:
        end = datetime.combine(query.created_to + timedelta(days=1), time(), UTC)
        stmt = stmt.where(AuditEvent.created_at < end)
    if query.before:
        stmt = stmt.where(AuditEvent.id < query.before)
    rows = list(db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(page_size + 1)))
    return rows[:page_size], (rows[page_size - 1].id if len(rows) > page_size else None)
