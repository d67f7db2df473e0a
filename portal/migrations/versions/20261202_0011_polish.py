"""The customer an audit event is about (`audit_events.customer_id`), so the admin timeline shows address and other
events of one customer, not only those recorded on the customer row itself.

Revision ID: 0011
Revises: 0013_bigint_amounts
Create Date: 2026-12-02 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0013_bigint_amounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.String(length=16), nullable=True))
    op.create_index("ix_audit_events_customer", "audit_events", ["customer_id", "id"])
    # Events recorded before: those on the customer row are about that customer.
    op.execute("UPDATE audit_events SET customer_id = resource_id WHERE resource_type = 'customers'")


def downgrade() -> None:
    op.drop_index("ix_audit_events_customer", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_column("customer_id")
