"""customer counters: per organization, status and group, kept by triggers; an index for sorting by order count

`customer_counts` answers `record_count` of unfiltered and status-filtered customer lists and the admin dashboard
without counting a million rows. Triggers on `customers` keep it in the writing transaction (insert, delete, and an
update that moves status, group or organization), so it is exact after every committed write and a rollback undoes
it. The triggers are raw SQL, outside the models-vs-migrations comparison; the table and index are in the models.

Revision ID: 0009
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0010"
branch_labels = None
depends_on = None

_DOWN = (
    "UPDATE customer_counts SET count = count - 1 WHERE organization_id = old.organization_id "
    "AND status = old.status AND group_key = coalesce(old.customer_group_id, 0);"
)
_UP = (
    "INSERT INTO customer_counts (organization_id, status, group_key, count) "
    "VALUES (new.organization_id, new.status, coalesce(new.customer_group_id, 0), 1) "
    "ON CONFLICT (organization_id, status, group_key) DO UPDATE SET count = customer_counts.count + 1;"
)
_MOVED = (
    "old.status IS DISTINCT FROM new.status OR old.customer_group_id IS DISTINCT FROM new.customer_group_id "
    "OR old.organization_id <> new.organization_id"
)

SQLITE_UP = [
    f"CREATE TRIGGER customer_counts_ai AFTER INSERT ON customers BEGIN {_UP} END",
    f"CREATE TRIGGER customer_counts_ad AFTER DELETE ON customers BEGIN {_DOWN} END",
    "CREATE TRIGGER customer_counts_au AFTER UPDATE OF status, customer_group_id, organization_id ON customers "
    f"WHEN {_MOVED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN {_DOWN} {_UP} END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS customer_counts_au",
    "DROP TRIGGER IF EXISTS customer_counts_ad",
    "DROP TRIGGER IF EXISTS customer_counts_ai",
]
POSTGRES_UP = [
    "CREATE FUNCTION customer_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"IF TG_OP IN ('DELETE', 'UPDATE') THEN {_DOWN} END IF; "
    f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_UP} END IF; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER customer_counts_insert_delete AFTER INSERT OR DELETE ON customers "
    "FOR EACH ROW EXECUTE FUNCTION customer_counts_apply()",
    "CREATE TRIGGER customer_counts_update AFTER UPDATE OF status, customer_group_id, organization_id "
    f"ON customers FOR EACH ROW WHEN ({_MOVED}) EXECUTE FUNCTION customer_counts_apply()",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS customer_counts_update ON customers",
    "DROP TRIGGER IF EXISTS customer_counts_insert_delete ON customers",
    "DROP FUNCTION IF EXISTS customer_counts_apply()",
]
RECOUNT = (
    "INSERT INTO customer_counts (organization_id, status, group_key, count) "
    "SELECT organization_id, status, coalesce(customer_group_id, 0), count(*) FROM customers "
    "GROUP BY organization_id, status, coalesce(customer_group_id, 0)"
)


def upgrade() -> None:
    op.create_table(
        "customer_counts",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("group_key", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_customer_counts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "status", "group_key", name=op.f("pk_customer_counts")),
    )
    op.create_index(
        "ix_customers_org_orders_count", "customers", ["organization_id", "total_orders_count", "id"]
    )
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}.get(dialect, []):
        op.execute(statement)
    op.execute(RECOUNT)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}.get(dialect, []):
        op.execute(statement)
    op.drop_index("ix_customers_org_orders_count", table_name="customers")
    op.drop_table("customer_counts")
