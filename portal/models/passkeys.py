"""Passkeys (WebAuthn credentials) of customers and staff users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, PublicIdMixin, utcnow


class Passkey(PublicIdMixin, Base):
    """One registered authenticator credential. A customer's passkey belongs to that customer *in one org* (the
    same person in another org is another account with other passkeys); a staff user's has no org. The credential
    id is unique across the installation, so a sign-in finds exactly one row and then checks whose it is."""

    __tablename__ = "passkeys"
    __table_args__ = (Index("ix_passkeys_principal", "principal_type", "principal_id"),)

    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    principal_type: Mapped[str] = mapped_column(String(16))  # customer | user
    principal_id: Mapped[int]
    # base64url of the authenticator's credential id (at most 1023 bytes: 1364 characters)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key
    # The authenticator's signature counter: an assertion must raise it (0 forever means it does not count).
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(64))
    transports: Mapped[list[str]] = mapped_column(default=list)
    backed_up: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
