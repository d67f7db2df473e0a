"""search indexes: substring search on customer emails at a million customers per org

PostgreSQL: pg_trgm GIN indexes on customers.email and customers.reference (LIKE '%q%' and 'q%' use them).
SQLite: an FTS5 trigram table over customers.email, kept in sync by triggers (external content, no copy of the
emails), plus a b-tree index on (organization_id, reference). These objects are raw SQL, so they are kept out of
the models-vs-migrations comparison by `portal.migrate.include_object`.

Revision ID: 0002_search_indexes
Revises: f018a258911a
"""

from alembic import op

revision = "0002_search_indexes"
down_revision = "f018a258911a"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE customers_email_fts USING fts5("
    "email, content='customers', content_rowid='id', tokenize='trigram')",
    "INSERT INTO customers_email_fts(rowid, email) SELECT id, email FROM customers",
    "CREATE TRIGGER customers_email_fts_ai AFTER INSERT ON customers BEGIN "
    "INSERT INTO customers_email_fts(rowid, email) VALUES (new.id, new.email); END",
    "CREATE TRIGGER customers_email_fts_ad AFTER DELETE ON customers BEGIN "
    "INSERT INTO customers_email_fts(customers_email_fts, rowid, email) VALUES ('delete', old.id, old.email); END",
    "CREATE TRIGGER customers_email_fts_au AFTER UPDATE OF email ON customers BEGIN "
    "INSERT INTO customers_email_fts(customers_email_fts, rowid, email) VALUES ('delete', old.id, old.email); "
    "INSERT INTO customers_email_fts(rowid, email) VALUES (new.id, new.email); END",
    "CREATE INDEX ix_customers_org_reference ON customers (organization_id, reference)",
]
SQLITE_DOWN = [
    "DROP INDEX IF EXISTS ix_customers_org_reference",
    "DROP TRIGGER IF EXISTS customers_email_fts_au",
    "DROP TRIGGER IF EXISTS customers_email_fts_ad",
    "DROP TRIGGER IF EXISTS customers_email_fts_ai",
    "DROP TABLE IF EXISTS customers_email_fts",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_customers_email_trgm ON customers USING gin (email gin_trgm_ops)",
    "CREATE INDEX ix_customers_reference_trgm ON customers USING gin (reference gin_trgm_ops)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_customers_reference_trgm",
    "DROP INDEX IF EXISTS ix_customers_email_trgm",
]


def _run(statements: dict[str, list[str]]) -> None:
    for statement in statements.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def upgrade() -> None:
    _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP})


def downgrade() -> None:
    _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN})
