"""Customers (shoppers), their address book, password resets and privacy requests."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, PublicIdMixin, ReferenceMixin, TimestampMixin, new_public_id, str_enum

if TYPE_CHECKING:
    from portal.models.orgs import CustomerGroup, Organization
    from portal.models.staff import User
    from portal.models.tags import Tag


class CustomerStatus(enum.StrEnum):
    PROSPECT = "prospect"
    ACQUIRED = "acquired"
    REPEAT = "repeat"

    @classmethod
    def for_order_count(cls, count: int) -> CustomerStatus:
        if count <= 0:
            return cls.PROSPECT
        return cls.ACQUIRED if count == 1 else cls.REPEAT


class AnonymizationStatus(enum.StrEnum):
    REQUESTED = "requested"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DeletionRequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Customer(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("organization_id", "email"),
        UniqueConstraint("organization_id", "shopper_reference"),
        UniqueConstraint("organization_id", "profile_id"),
        Index("ix_customers_org_created", "organization_id", "created_at", "id"),
        Index("ix_customers_org_status", "organization_id", "status", "id"),
        Index("ix_customers_org_anonymization", "organization_id", "anonymization_status"),
        Index("ix_customers_org_orders_count", "organization_id", "total_orders_count", "id"),
    )

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # Stored trimmed and lower-cased: uniqueness per org is case-insensitive and the index serves prefix search.
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # flask-login's id: rotated to end every session and token at once (logout everywhere, password change, ...).
    login_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_public_id(24))
    email_verified_at: Mapped[datetime | None]
    shopper_reference: Mapped[str] = mapped_column(String(128))
    profile_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[CustomerStatus] = mapped_column(
        str_enum(CustomerStatus, "customer_status"), default=CustomerStatus.PROSPECT
    )
    total_orders_count: Mapped[int] = mapped_column(default=0)
    tax_exemption_code: Mapped[str | None] = mapped_column(String(255))
    customer_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_groups.id", ondelete="RESTRICT"), index=True
    )
    anonymization_status: Mapped[AnonymizationStatus | None] = mapped_column(
        str_enum(AnonymizationStatus, "anonymization_status")
    )
    # The language chosen with the shopper area's switcher (pages and emails); None: the browser decides.
    locale: Mapped[str | None] = mapped_column(String(8))

    organization: Mapped[Organization] = relationship()
    customer_group: Mapped[CustomerGroup | None] = relationship(back_populates="customers")
    customer_addresses: Mapped[list[CustomerAddress]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerAddress.id"
    )
    anonymization_requests: Mapped[list[AnonymizationRequest]] = relationship(
        back_populates="customer", order_by="AnonymizationRequest.id", cascade="all, delete-orphan"
    )
    tags: Mapped[list[Tag]] = relationship(secondary="customer_tags", order_by="Tag.name")

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def anonymized(self) -> bool:
        return self.anonymization_status is AnonymizationStatus.COMPLETED

    @property
    def current_anonymization(self) -> AnonymizationRequest | None:
        return self.anonymization_requests[-1] if self.anonymization_requests else None

    # flask-login protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return not self.anonymized

    def get_id(self) -> str:
        return f"customer:{self.login_id}"


class CustomerCount(Base):
    """How many customers an organization has per status and group (`group_key` 0: no group).

    Kept by database triggers on `customers` in the writing transaction itself (migration 0009), so every write
    path (services, bulk updates, cascades, the anonymizer) moves them and a rollback undoes them: lists and the
    admin dashboard read a handful of rows instead of counting a million. `services.customer_counts` reads and,
    after a bulk load that bypassed the triggers, recomputes them.
    """

    __tablename__ = "customer_counts"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    group_key: Mapped[int] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class Address(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    """Commerce Layer's `addresses`: used by the address book and, as copies, by orders."""

    __tablename__ = "addresses"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    business: Mapped[bool] = mapped_column(default=False)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    company: Mapped[str | None] = mapped_column(String(255))
    line_1: Mapped[str] = mapped_column(String(255))
    line_2: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str] = mapped_column(String(255))
    zip_code: Mapped[str | None] = mapped_column(String(32))
    state_code: Mapped[str | None] = mapped_column(String(32))
    country_code: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    billing_info: Mapped[str | None] = mapped_column(String(255))

    @property
    def full_name(self) -> str:
        if self.business:
            return self.company or ""
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def full_address(self) -> str:
        parts = [
            self.line_1,
            self.line_2,
            self.zip_code,
            self.city,
            self.state_code,
            f"({self.country_code})",
        ]
        return " ".join(p for p in parts if p) + (f" {self.phone}" if self.phone else "")

    @property
    def name(self) -> str:
        return f"{self.full_name}, {self.full_address}"


class CustomerAddress(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    """An entry of a customer's address book, pointing at an `Address`."""

    __tablename__ = "customer_addresses"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id", ondelete="CASCADE"), index=True)

    customer: Mapped[Customer] = relationship(back_populates="customer_addresses")
    address: Mapped[Address] = relationship(cascade="all, delete-orphan", single_parent=True)

    @property
    def customer_email(self) -> str:
        return self.customer.email

    @property
    def name(self) -> str:
        return self.address.name


class PasswordReset(PublicIdMixin, TimestampMixin, ReferenceMixin, Base):
    """Commerce Layer's `customer_password_resets`. Only a hash of the token is kept."""

    __tablename__ = "customer_password_resets"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    reset_password_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship()


class AnonymizationRequest(PublicIdMixin, Base):
    """One anonymization request of a customer: the job the worker claims, and the source of `anonymization_info`."""

    __tablename__ = "anonymization_requests"
    __table_args__ = (
        Index("ix_anonymization_requests_due", "status", "due_at"),
        # At most one open request per customer, whatever races the services lose.
        Index(
            "uq_anonymization_requests_open",
            "customer_id",
            unique=True,
            postgresql_where=text("status IN ('requested', 'started')"),
            sqlite_where=text("status IN ('requested', 'started')"),
        ),
    )

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    status: Mapped[AnonymizationStatus] = mapped_column(
        str_enum(AnonymizationStatus, "anonymization_request_status")
    )
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancellation_requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime]
    due_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # A reason without personal data (an exception class name and a step), shown to admins.
    failure_reason: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)

    customer: Mapped[Customer] = relationship(back_populates="anonymization_requests")
    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id])
    cancellation_requester: Mapped[User | None] = relationship(foreign_keys=[cancellation_requester_id])


class DeletionRequest(PublicIdMixin, TimestampMixin, Base):
    """A shopper's own request to delete their data; an org admin approves (→ anonymization) or rejects it."""

    __tablename__ = "deletion_requests"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    status: Mapped[DeletionRequestStatus] = mapped_column(
        str_enum(DeletionRequestStatus, "deletion_request_status"), default=DeletionRequestStatus.PENDING
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship()
    decided_by: Mapped[User | None] = relationship()
