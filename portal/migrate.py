"""Alembic, driven from the app's configuration (migrations are the only schema source)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Schema objects created with raw SQL by migration 0002_search_indexes: not in the models, so not compared with them.
RAW_SQL_OBJECTS = frozenset(
    {
        "ix_customers_email_trgm",
        "ix_customers_reference_trgm",
        "ix_customers_org_reference",
        "customers_email_fts",
        "customers_email_fts_data",
        "customers_email_fts_idx",
        "customers_email_fts_docsize",
        "customers_email_fts_config",
        "customers_email_fts_content",
    }
)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic hook: leave the raw-SQL search objects out of autogenerate and the schema test."""
    return name not in RAW_SQL_OBJECTS


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, connection: Connection | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url, connection), revision)


def revision(url: str, message: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)


@functools.cache
def _script() -> ScriptDirectory:
    """The migrations this code ships (read once per process: the files do not change under it)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def schema_behind(connection: Connection) -> bool:
    """Whether the database lacks a migration this code needs: never upgraded, or at an older revision.

    A revision this code does not know belongs to a newer release whose `db-upgrade` ran first (migrations are
    additive first: README, Deploying), so older code keeps serving on it during a rolling upgrade.
    """
    current = set(MigrationContext.configure(connection).get_current_heads())
    if not current:
        return True
    known = {revision.revision for revision in _script().walk_revisions()}
    return bool(current & known) and not current & set(_script().get_heads())
