"""Organizations (tenants), their markets and customer groups."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, PublicIdMixin, ReferenceMixin, TimestampMixin

if TYPE_CHECKING:
    from portal.models.customers import Customer


class Organization(PublicIdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # Branding shown on the shopper pages of this org.
    primary_color: Mapped[str] = mapped_column(String(7), default="#1f4fd1")
    logo_url: Mapped[str | None] = mapped_column(String(500))
    # Storefront origins allowed to frame the shopper pages (CSP frame-ancestors) and receive postMessage.
    allowed_origins: Mapped[list[str]] = mapped_column(default=list)
    require_admin_2fa: Mapped[bool] = mapped_column(default=False)
    # None means the deployment default (PORTAL_ANONYMIZATION_DELAY).
    anonymization_delay_seconds: Mapped[int | None]
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"


class CustomerGroup(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    __tablename__ = "customer_groups"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    code: Mapped[str | None] = mapped_column(String(25))

    organization: Mapped[Organization] = relationship()
    customers: Mapped[list[Customer]] = relationship(back_populates="customer_group", viewonly=True)
    markets: Mapped[list[Market]] = relationship(back_populates="customer_group", viewonly=True)


class Market(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    """A market linked to a customer group is private: only that group's customers may shop in it."""

    __tablename__ = "markets"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(255))
    code: Mapped[str | None] = mapped_column(String(63))
    customer_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_groups.id", ondelete="RESTRICT"), index=True
    )
    disabled_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship()
    customer_group: Mapped[CustomerGroup | None] = relationship(back_populates="markets")

    @property
    def private(self) -> bool:
        return self.customer_group_id is not None
