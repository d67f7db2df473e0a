"""Passkeys (WebAuthn credentials) of customers and staff. One-time email codes and WebAuthn challenges are rows of
`action_tokens` (purposes `sign_in_code`, `passkey_register`, `passkey_sign_in`): no new table for them.

Revision ID: 0012_passkeys_email_codes
Revises: 0009
Create Date: 2026-12-02 18:00:00
"""

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision = "0012_passkeys_email_codes"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("principal_type", sa.String(length=16), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_passkeys_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_passkeys_public_id")),
    )
    op.create_index("ix_passkeys_principal", "passkeys", ["principal_type", "principal_id"])


def downgrade() -> None:
    op.drop_index("ix_passkeys_principal", table_name="passkeys")
    op.drop_table("passkeys")
