"""Orders, kept here for what the customer domain needs: status counting, history, anonymization."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, PublicIdMixin, ReferenceMixin, TimestampMixin, str_enum

if TYPE_CHECKING:
    from portal.models.customers import Address, Customer
    from portal.models.orgs import Market


# Amounts in cents are 64-bit: currencies with small units (IDR, VND) pass 32-bit limits on ordinary orders.
# SQLite's INTEGER already is 64-bit (and is what its tables declare).
Cents = BigInteger().with_variant(Integer(), "sqlite")


class OrderStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    PLACED = "placed"
    APPROVED = "approved"
    CANCELLED = "cancelled"

    @property
    def counts_for_customer(self) -> bool:
        """Orders that make a customer acquired/repeat: placed ones, whatever happened to them afterwards."""
        return self in (OrderStatus.PLACED, OrderStatus.APPROVED, OrderStatus.CANCELLED)


class Order(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("organization_id", "number"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
    )

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id", ondelete="RESTRICT"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[OrderStatus] = mapped_column(
        str_enum(OrderStatus, "order_status"), default=OrderStatus.DRAFT
    )
    guest: Mapped[bool] = mapped_column(default=False)
    # Copies taken when the order was placed; anonymization overwrites them, accounting fields stay.
    customer_email: Mapped[str | None] = mapped_column(String(254))
    language_code: Mapped[str] = mapped_column(String(8), default="en")
    currency_code: Mapped[str] = mapped_column(String(3))
    country_code: Mapped[str | None] = mapped_column(String(2))
    subtotal_amount_cents: Mapped[int] = mapped_column(Cents, default=0)
    shipping_amount_cents: Mapped[int] = mapped_column(Cents, default=0)
    discount_amount_cents: Mapped[int] = mapped_column(Cents, default=0)
    total_tax_amount_cents: Mapped[int] = mapped_column(Cents, default=0)
    total_amount_cents: Mapped[int] = mapped_column(Cents, default=0)
    # Indexed: deleting an address (anonymization, address book) must not scan every order for references.
    billing_address_id: Mapped[int | None] = mapped_column(
        ForeignKey("addresses.id", ondelete="SET NULL"), index=True
    )
    shipping_address_id: Mapped[int | None] = mapped_column(
        ForeignKey("addresses.id", ondelete="SET NULL"), index=True
    )
    placed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    market: Mapped[Market] = relationship()
    customer: Mapped[Customer | None] = relationship()
    billing_address: Mapped[Address | None] = relationship(foreign_keys=[billing_address_id])
    shipping_address: Mapped[Address | None] = relationship(foreign_keys=[shipping_address_id])
    line_items: Mapped[list[LineItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="LineItem.id"
    )


class LineItem(PublicIdMixin, TimestampMixin, Base):
    """What was bought: Commerce Layer's `line_items` of an order, reduced to what the customer pages show.
    Copies taken when the item was added (the catalogue may change later), in the order's organization."""

    __tablename__ = "line_items"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku_code: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_amount_cents: Mapped[int] = mapped_column(Cents, default=0)
    currency_code: Mapped[str] = mapped_column(String(3))

    order: Mapped[Order] = relationship(back_populates="line_items")

    @property
    def total_amount_cents(self) -> int:
        return self.quantity * self.unit_amount_cents
