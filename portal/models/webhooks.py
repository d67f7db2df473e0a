"""Webhooks (Commerce Layer's `webhooks`) and their deliveries (`event_callbacks`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, PublicIdMixin, ReferenceMixin, TimestampMixin, utcnow


class Webhook(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    """A subscription of one org to one topic: events of that topic are POSTed, signed, to `callback_url`."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_org_topic", "organization_id", "topic"),)

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(64))
    callback_url: Mapped[str] = mapped_column(String(2000))
    include_resources: Mapped[list[str]] = mapped_column(default=list)
    # Kept in clear: the worker signs each body with it (HMAC needs the key itself), and the API returns it, as
    # Commerce Layer does, to the org's integrations.
    shared_secret: Mapped[str] = mapped_column(String(64))
    disabled_at: Mapped[datetime | None]
    circuit_state: Mapped[str] = mapped_column(String(16), default="closed")  # closed | open
    circuit_failure_count: Mapped[int] = mapped_column(default=0)

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


class EventCallback(PublicIdMixin, TimestampMixin, Base):
    """One delivery of one event to one webhook. Its public id is the idempotency id the receiver sees on every
    attempt; the body is built once, so every retry sends the same bytes and the same signature."""

    __tablename__ = "event_callbacks"
    __table_args__ = (
        UniqueConstraint("outbox_message_id", "webhook_id"),
        Index("ix_event_callbacks_due", "delivered_at", "available_at"),
        Index("ix_event_callbacks_webhook", "webhook_id", "id"),
    )

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    outbox_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL"), index=True
    )
    # The customer the event is about, so anonymization can clear the payload it holds.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    topic: Mapped[str] = mapped_column(String(64))
    callback_url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[str] = mapped_column(Text)  # the exact body sent (and signed)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    response_code: Mapped[int | None]
    response_message: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[datetime | None]
    # Set when retries ran out or the webhook was deleted: never sent again.
    failed_at: Mapped[datetime | None]

    webhook: Mapped[Webhook] = relationship()

    @property
    def payload_object(self) -> dict[str, Any]:
        return json.loads(self.payload) if self.payload else {}
