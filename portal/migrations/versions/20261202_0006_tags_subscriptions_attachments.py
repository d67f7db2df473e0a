"""Tags and customer_tags, customer subscriptions (newsletter consent), attachments (staff notes on customers).

Revision ID: 0006
Revises: 0009
Create Date: 2026-12-02 17:34:28.846415
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0006"
down_revision = "0012_passkeys_email_codes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("attachable_type", sa.String(length=32), nullable=False),
        sa.Column("attachable_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("reference_origin", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_attachments_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("public_id", name=op.f("uq_attachments_public_id")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index("ix_attachments_attachable", ["attachable_type", "attachable_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachments_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "tags",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=25), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("reference_origin", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_tags_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_tags_organization_id_name")),
        sa.UniqueConstraint("public_id", name=op.f("uq_tags_public_id")),
    )
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tags_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "customer_subscriptions",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("reference_origin", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_subscriptions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_customer_subscriptions_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_subscriptions")),
        sa.UniqueConstraint(
            "customer_id", "reference", name=op.f("uq_customer_subscriptions_customer_id_reference")
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_customer_subscriptions_public_id")),
    )
    with op.batch_alter_table("customer_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_subscriptions_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_subscriptions_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "customer_tags",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_tags_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_customer_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("customer_id", "tag_id", name=op.f("pk_customer_tags")),
    )
    with op.batch_alter_table("customer_tags", schema=None) as batch_op:
        batch_op.create_index("ix_customer_tags_tag", ["tag_id", "customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_tags_tag")

    op.drop_table("customer_tags")
    with op.batch_alter_table("customer_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_subscriptions_organization_id"))
        batch_op.drop_index(batch_op.f("ix_customer_subscriptions_customer_id"))

    op.drop_table("customer_subscriptions")
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tags_organization_id"))

    op.drop_table("tags")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_organization_id"))
        batch_op.drop_index("ix_attachments_attachable")

    op.drop_table("attachments")
