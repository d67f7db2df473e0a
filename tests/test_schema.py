"""Migrations are the only schema source: an upgraded database must match the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import portal.models  # noqa: F401
from portal import db
from portal.db import Base
from portal.migrate import include_object


def test_models_and_migrations_agree(app):
    with db.engine_of(app).connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        assert compare_metadata(context, Base.metadata) == []
