"""Whether this instance can serve: each check returns a reason (no secrets, no connection strings) or None."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from portal import db, migrate
from portal.security import signing_keys

log = logging.getLogger(__name__)


def _schema_problem() -> str | None:
    try:
        behind = migrate.schema_behind(db.session.connection())
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        return "database unreachable"
    if behind:
        return "database schema is behind this code: run `flask --app portal db-upgrade`"
    return None


def _keys_problem(app: Flask) -> str | None:
    try:
        signing_keys.signing_key(app)
    except Exception as error:  # noqa: BLE001 - any failure to read or parse the key set means "not ready"
        log.warning("readiness: signing keys not loaded (%s)", type(error).__name__)
        return "signing keys cannot be loaded"
    return None


def problem(app: Flask) -> str | None:
    return _schema_problem() or _keys_problem(app)
