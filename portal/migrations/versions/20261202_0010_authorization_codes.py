"""The authorization code grant: codes (hashed, single use, PKCE-bound) and remembered consents.

`applications.kind` gains `webapp` (a VARCHAR without a CHECK constraint: no schema change).

Revision ID: 0010
Revises: 0011
Create Date: 2026-12-02 18:00:00
"""

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision = "0010"
down_revision = "0011"  # main's head when this branch last merged it; the lead chains the helpers' migrations
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authorization_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("owner_type", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("family_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_authorization_codes_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_authorization_codes_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_authorization_codes_code_hash")),
    )
    with op.batch_alter_table("authorization_codes") as batch_op:
        batch_op.create_index(batch_op.f("ix_authorization_codes_application_id"), ["application_id"])
        batch_op.create_index(batch_op.f("ix_authorization_codes_organization_id"), ["organization_id"])
        batch_op.create_index("ix_authorization_codes_owner", ["owner_type", "owner_id"])
    op.create_table(
        "oauth_consents",
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("owner_type", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_oauth_consents_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_oauth_consents_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_consents")),
        sa.UniqueConstraint(
            "application_id",
            "owner_type",
            "owner_id",
            name=op.f("uq_oauth_consents_application_id_owner_type_owner_id"),
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_oauth_consents_public_id")),
    )
    with op.batch_alter_table("oauth_consents") as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_consents_application_id"), ["application_id"])
        batch_op.create_index(batch_op.f("ix_oauth_consents_organization_id"), ["organization_id"])


def downgrade() -> None:
    op.drop_table("oauth_consents")
    op.drop_table("authorization_codes")
