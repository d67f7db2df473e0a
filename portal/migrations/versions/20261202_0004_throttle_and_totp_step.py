"""The embedded rate-limit storage (`throttle`) and the last accepted TOTP step of each user.

Revision ID: 0004_throttle_and_totp_step
Revises: 0003_anonymization_indexes
Create Date: 2026-12-02 14:00:00
"""

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision = "0004_throttle_and_totp_step"
down_revision = "0003_anonymization_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttle",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_throttle")),
    )
    op.create_index(op.f("ix_throttle_expires_at"), "throttle", ["expires_at"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("totp_last_step")
    op.drop_index(op.f("ix_throttle_expires_at"), table_name="throttle")
    op.drop_table("throttle")
