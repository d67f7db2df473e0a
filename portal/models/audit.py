"""The audit trail and the outbox of side effects delivered by the worker after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, PublicIdMixin, utcnow


class AuditEvent(PublicIdMixin, Base):
    """Who did what to which record, and which fields changed. Never the values: those may be personal data."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_resource", "resource_type", "resource_id", "id"),
        Index("ix_audit_events_org_created", "organization_id", "created_at"),
        Index("ix_audit_events_customer", "customer_id", "id"),
    )

    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # user | customer | application | worker | system
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(16))
    # The public id of the customer the event is about (the customer itself, an entry of its address book, its
    # order...): the admin timeline reads events of every kind about one customer, even after the record is gone.
    customer_id: Mapped[str | None] = mapped_column(String(16))
    changed_fields: Mapped[list[str]] = mapped_column(default=list)
    # Non-personal facts about the event: a status transition, a role, a count.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(PublicIdMixin, Base):
    """A side effect (email, webhook event) written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "delivered_at", "available_at"),)

    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # Set when the message concerns one customer, so anonymization can erase what it holds.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # email | event
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    # Webhook delivery is a later issue: event rows wait here with delivered_at NULL until then.
    recipients: Mapped[list[str]] = mapped_column(default=list)
