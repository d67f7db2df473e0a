"""Alembic, driven from the app's configuration (migrations are the only schema source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
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
