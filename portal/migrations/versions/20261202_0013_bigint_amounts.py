"""Order and line-item amounts in cents become 64-bit (validation accepts up to 10¹³; 32-bit columns overflowed).

Revision ID: 0013_bigint_amounts
Revises: 0005_throttle_and_totp_step
Create Date: 2026-12-02 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_bigint_amounts"
down_revision = "0005_throttle_and_totp_step"
branch_labels = None
depends_on = None

ORDER_AMOUNTS = (
    "subtotal_amount_cents",
    "shipping_amount_cents",
    "discount_amount_cents",
    "total_tax_amount_cents",
    "total_amount_cents",
)


def _alter(table: str, columns: tuple[str, ...], to: sa.types.TypeEngine, from_: sa.types.TypeEngine) -> None:
    # SQLite's INTEGER is already 64-bit; rebuilding the table there would only cost time and triggers.
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in columns:
        op.alter_column(table, column, type_=to, existing_type=from_, existing_nullable=False)


def upgrade() -> None:
    _alter("orders", ORDER_AMOUNTS, sa.BigInteger(), sa.Integer())
    _alter("line_items", ("unit_amount_cents",), sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _alter("line_items", ("unit_amount_cents",), sa.Integer(), sa.BigInteger())
    _alter("orders", ORDER_AMOUNTS, sa.Integer(), sa.BigInteger())
