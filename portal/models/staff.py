"""Organization staff (users), their memberships, and API credentials (applications)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, PublicIdMixin, TimestampMixin, new_public_id, str_enum

if TYPE_CHECKING:
    from portal.models.orgs import Organization


class Role(enum.StrEnum):
    ADMIN = "admin"
    READ_ONLY = "read_only"


class ApplicationKind(enum.StrEnum):
    SALES_CHANNEL = "sales_channel"
    INTEGRATION = "integration"
    # Commerce Layer's `webapp`: a third-party app acting for a staff member (authorization code grant).
    WEBAPP = "webapp"
    # A user's personal provisioning credentials (Commerce Layer's Provisioning API): no organization.
    USER = "user"


class User(PublicIdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str] = mapped_column(String(255), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    login_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_public_id(24))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    # The 30-second step of the last TOTP code accepted: a code (or an earlier one) is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Hashes of unused recovery codes.
    recovery_code_hashes: Mapped[list[str]] = mapped_column(default=list)
    disabled_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email

    def role_in(self, organization: Organization) -> Role | None:
        for membership in self.memberships:
            if membership.organization_id == organization.id:
                return membership.role
        return None

    # flask-login protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    def get_id(self) -> str:
        return f"user:{self.login_id}"


class Membership(TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship()


class Application(PublicIdMixin, TimestampMixin, Base):
    """API credentials. Sales channels are public (client id only); integrations and user credentials have a secret."""

    __tablename__ = "applications"

    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[ApplicationKind] = mapped_column(str_enum(ApplicationKind, "application_kind"))
    role: Mapped[Role | None] = mapped_column(str_enum(Role, "application_role"))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    # Access-token lifetime in seconds; None means Commerce Layer's default for the kind.
    access_token_lifetime: Mapped[int | None]
    # JWT-bearer strict mode: assertions must be signed with this key (a JWK set as JSON) using an allowed algorithm.
    jwt_strict: Mapped[bool] = mapped_column(default=False)
    jwt_keys: Mapped[dict[str, Any] | None]
    jwt_algorithms: Mapped[list[str]] = mapped_column(default=list)
    # The registered redirect URIs (authorization code grant), one per line; matched exactly.
    redirect_uri: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None]

    organization: Mapped[Organization | None] = relationship()
    user: Mapped[User | None] = relationship()

    @property
    def confidential(self) -> bool:
        return self.kind is not ApplicationKind.SALES_CHANNEL

    @property
    def redirect_uris(self) -> list[str]:
        return (self.redirect_uri or "").split()
