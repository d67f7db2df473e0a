"""Server-side state of tokens and browser sessions: a JWT or a cookie is only valid while its row says so."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow
from portal.models.staff import Application


class OAuthToken(Base):
    """One issued access token (and its refresh token, if any). Refresh rotation chains tokens into a family."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index("ix_oauth_tokens_owner", "owner_type", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # customer | user | None (guest / client-only)
    owner_type: Mapped[str | None] = mapped_column(String(16))
    owner_id: Mapped[int | None]
    scope: Mapped[str] = mapped_column(String(500), default="")
    market_ids: Mapped[list[str]] = mapped_column(default=list)
    custom_claim: Mapped[dict[str, Any] | None]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    refresh_expires_at: Mapped[datetime | None]
    # Set when this token's refresh token was exchanged; a second exchange is reuse and revokes the family.
    refreshed_at: Mapped[datetime | None]
    family_id: Mapped[str] = mapped_column(String(64), index=True)

    application: Mapped[Application] = relationship()


class UsedAssertion(Base):
    """JWT-bearer assertion ids already exchanged (replay refusal), kept until the assertion expires."""

    __tablename__ = "used_assertions"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime]

    __table_args__ = (Index("uq_used_assertions_app_jti", "application_id", "jti", unique=True),)


class ThrottleCounter(Base):
    """One rate-limit or lockout counter of the embedded storage (portal/security/counters.py). The key is a
    SHA-256 digest: the emails and IP addresses counted never reach the table."""

    __tablename__ = "throttle"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginSession(Base):
    """A browser session. The cookie carries `sid`; revoking the row ends that session wherever the cookie is."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_principal", "principal_type", "principal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    principal_type: Mapped[str] = mapped_column(String(16))  # customer | user
    principal_id: Mapped[int]
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Last time the principal typed their password (admin re-authentication for irreversible actions).
    authenticated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None]


class ActionToken(Base):
    """A single-use emailed link (verify email, confirm an email change, accept an invitation). Stored hashed."""

    __tablename__ = "action_tokens"
    __table_args__ = (Index("ix_action_tokens_principal", "principal_type", "principal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))  # verify_email | change_email | invite | ...
    principal_type: Mapped[str] = mapped_column(String(16))  # customer | user
    principal_id: Mapped[int]
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # What the link will do, e.g. the new email address of an email change.
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
