"""The authorization code grant's state: short-lived codes, and the consents shoppers and staff gave applications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, PublicIdMixin, utcnow
from portal.models.staff import Application


class AuthorizationCode(Base):
    """One code of `/oauth/authorize` (stored hashed): single use, bound to its client, redirect URI and PKCE
    challenge. `family_id` names the tokens it was exchanged for, so a second exchange revokes them (RFC 6749
    §4.1.2)."""

    __tablename__ = "authorization_codes"
    __table_args__ = (Index("ix_authorization_codes_owner", "owner_type", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    owner_type: Mapped[str] = mapped_column(String(16))  # customer | user
    owner_id: Mapped[int]
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(500), default="")
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    family_id: Mapped[str | None] = mapped_column(String(64))

    application: Mapped[Application] = relationship()


class OAuthConsent(PublicIdMixin, Base):
    """A customer's or staff member's consent to an application acting for them: asked once, revocable."""

    __tablename__ = "oauth_consents"
    __table_args__ = (UniqueConstraint("application_id", "owner_type", "owner_id"),)

    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    owner_type: Mapped[str] = mapped_column(String(16))  # customer | user
    owner_id: Mapped[int]
    scope: Mapped[str] = mapped_column(String(500), default="")
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship()
