"""Indexes for anonymization: order address references, one open request per customer.

Revision ID: 0003_anonymization_indexes
Revises: 0002_search_indexes
Create Date: 2026-11-26 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_anonymization_indexes"
down_revision = "0002_search_indexes"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('requested', 'started')")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.create_index("ix_orders_billing_address_id", ["billing_address_id"])
        batch_op.create_index("ix_orders_shipping_address_id", ["shipping_address_id"])
    op.create_index(
        "uq_anonymization_requests_open",
        "anonymization_requests",
        ["customer_id"],
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_anonymization_requests_open", table_name="anonymization_requests")
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_index("ix_orders_shipping_address_id")
        batch_op.drop_index("ix_orders_billing_address_id")
