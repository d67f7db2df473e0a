"""The customer's language (the shopper area's switcher) and order line items (what was bought).

Revision ID: 0004_locale_line_items
Revises: 0003_anonymization_indexes
Create Date: 2026-12-02 13:45:00
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0004_locale_line_items"
down_revision = "0003_anonymization_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=True))
    op.create_table(
        "line_items",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("sku_code", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_line_items_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_line_items_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_items")),
        sa.UniqueConstraint("public_id", name=op.f("uq_line_items_public_id")),
    )
    with op.batch_alter_table("line_items") as batch_op:
        batch_op.create_index(batch_op.f("ix_line_items_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_line_items_organization_id"), ["organization_id"], unique=False)


def downgrade() -> None:
    op.drop_table("line_items")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("locale")
