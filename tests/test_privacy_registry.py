"""G1: every column of every table is classified in portal.jobs.privacy; a new column without a classification fails."""

from __future__ import annotations

import importlib

from sqlalchemy import inspect

from portal import db
from portal.db import Base
from portal.jobs import eraser, privacy
from portal.services import traces


def test_every_model_column_is_classified():
    assert privacy.unclassified(Base.metadata) == []


def test_every_migrated_column_is_classified(app):
    """The live schema too (reflected, not the models), so tables that exist only in migrations are covered."""
    inspector = inspect(db.engine_of(app))
    missing = [
        f"{table}.{column['name']}"
        for table in inspector.get_table_names()
        if table != "alembic_version"
        for column in inspector.get_columns(table)
        if column["name"] not in privacy.REGISTRY.get(table, {})
    ]
    assert missing == []


def test_registry_has_no_stale_entries():
    known = {f"{t.name}.{c.name}" for t in Base.metadata.sorted_tables for c in t.columns}
    listed = {
        f"{table}.{name}"
        for table, rules in privacy.REGISTRY.items()
        if table not in privacy.MIGRATION_ONLY
        for name in rules
    }
    assert listed - known == set()


def test_personal_columns_say_what_anonymization_does_and_others_do_not():
    for table, rules in privacy.REGISTRY.items():
        for name, rule in rules.items():
            assert (rule.kind is privacy.Kind.PERSONAL) == (rule.erasure is not None), f"{table}.{name}"
            assert rule.reason, f"{table}.{name}"


def test_the_customer_identity_columns_are_erased():
    erased = set(privacy.columns(privacy.Kind.PERSONAL)) - set(
        privacy.columns(privacy.Kind.PERSONAL, privacy.Erasure.NOT_CUSTOMER)
    )
    assert {
        "customers.email",
        "customers.password_hash",
        "orders.customer_email",
        "addresses.phone",
    } <= erased
    assert "addresses.country_code" in privacy.columns(privacy.Kind.KEPT)


def test_every_personal_column_is_written_or_deleted_by_the_eraser():
    """The registry drives the eraser: a column classified personal (replace/clear) that neither the eraser nor the
    traces it shares with deletion writes, or a `delete` column of a table whose rows are not deleted, fails here."""
    writes = {
        table: eraser.WRITES.get(table, set()) | traces.WRITES.get(table, set()) for table in privacy.REGISTRY
    }
    unwritten = [
        column
        for erasure in (privacy.Erasure.REPLACE, privacy.Erasure.CLEAR)
        for column in privacy.columns(privacy.Kind.PERSONAL, erasure)
        if column.split(".")[1] not in writes[column.split(".")[0]]
    ]
    assert unwritten == []
    undeleted = {
        column.split(".")[0] for column in privacy.columns(privacy.Kind.PERSONAL, privacy.Erasure.DELETE)
    } - eraser.DELETED_TABLES
    assert undeleted == set()


def test_a_newly_classified_customer_column_is_erased_without_touching_the_eraser(monkeypatch):
    """Classifying a column `clear` is all it takes: the eraser's lists are computed from the registry."""
    monkeypatch.setitem(
        privacy.REGISTRY,
        "customers",
        {**privacy.REGISTRY["customers"], "status": privacy.personal(privacy.CLEAR, "x")},
    )
    fresh = importlib.reload(eraser)
    try:
        assert "status" in fresh.CUSTOMER_CLEARED and "status" in fresh.WRITES["customers"]
    finally:
        monkeypatch.undo()
        importlib.reload(eraser)
