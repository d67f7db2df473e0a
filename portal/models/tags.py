"""Tags (an org's labels for customers), customer subscriptions (newsletter consent) and attachments (staff notes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, PublicIdMixin, ReferenceMixin, TimestampMixin

if TYPE_CHECKING:
    from portal.models.customers import Customer

# Which customer carries which tag. Both keys cascade: deleting a tag untags everyone, deleting a customer drops
# its rows. The (tag_id, customer_id) index serves "customers tagged X" (API filters, admin search).
customer_tags = Table(
    "customer_tags",
    Base.metadata,
    Column("customer_id", ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_customer_tags_tag", "tag_id", "customer_id"),
)


class Tag(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    """Commerce Layer's `tags`: a name of lowercase letters, digits and underscores, unique in the organization."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(25))


class CustomerSubscription(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    """Commerce Layer's `customer_subscriptions` (newsletter-style consent). `created_at` is when the consent was
    given and `source` where (shop, api, admin): the proof GDPR asks for. Unsubscribing deletes the row."""

    __tablename__ = "customer_subscriptions"
    __table_args__ = (UniqueConstraint("customer_id", "reference"),)

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))

    customer: Mapped[Customer] = relationship()

    @property
    def customer_email(self) -> str:
        return self.customer.email


class Attachment(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    """Commerce Layer's `attachments`, polymorphic `attachable` (only customers here): staff notes about a customer
    (the dashboard's timeline notes), or a link to a document. Plain text; the url is http(s) only."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_attachable", "attachable_type", "attachable_id"),)

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    attachable_type: Mapped[str] = mapped_column(String(32))
    attachable_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2048))
