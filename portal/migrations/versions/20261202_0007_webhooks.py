"""Webhooks and their deliveries (event callbacks).

Revision ID: 0007
Revises: 0009
Create Date: 2026-12-02 18:00:00
"""

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision = "0007"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("callback_url", sa.String(length=2000), nullable=False),
        sa.Column("include_resources", sa.JSON(), nullable=False),
        sa.Column("shared_secret", sa.String(length=64), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("circuit_state", sa.String(length=16), nullable=False),
        sa.Column("circuit_failure_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("reference_origin", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhooks_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint("public_id", name=op.f("uq_webhooks_public_id")),
    )
    op.create_index("ix_webhooks_org_topic", "webhooks", ["organization_id", "topic"])
    op.create_table(
        "event_callbacks",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("callback_url", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("response_message", sa.String(length=1000), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("failed_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_event_callbacks_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_event_callbacks_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_event_callbacks_outbox_message_id_outbox_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_event_callbacks_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_callbacks")),
        sa.UniqueConstraint("public_id", name=op.f("uq_event_callbacks_public_id")),
        sa.UniqueConstraint(
            "outbox_message_id", "webhook_id", name=op.f("uq_event_callbacks_outbox_message_id_webhook_id")
        ),
    )
    op.create_index("ix_event_callbacks_due", "event_callbacks", ["delivered_at", "available_at"])
    op.create_index("ix_event_callbacks_webhook", "event_callbacks", ["webhook_id", "id"])
    op.create_index(op.f("ix_event_callbacks_customer_id"), "event_callbacks", ["customer_id"])
    op.create_index(op.f("ix_event_callbacks_organization_id"), "event_callbacks", ["organization_id"])
    op.create_index(op.f("ix_event_callbacks_outbox_message_id"), "event_callbacks", ["outbox_message_id"])


def downgrade() -> None:
    op.drop_table("event_callbacks")
    op.drop_index("ix_webhooks_org_topic", table_name="webhooks")
    op.drop_table("webhooks")
