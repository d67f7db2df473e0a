"""The backup procedure of README "Deploying", exercised: `pg_dump --format=custom` of a live portal database,
`pg_restore` into an empty database, and the portal serves from the copy (ready, same rows, passwords still work)."""

from __future__ import annotations

import re
import secrets
import subprocess

import pytest
from sqlalchemy import func, select

from portal import create_app, db, migrate
from portal.models import AuditEvent, Customer
from tests.databases import create_postgres_database, drop_postgres_database
from tests.factories import PASSWORD, make_customer, make_org
from tests.headers import header_problems

pytestmark = pytest.mark.postgres_only
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(Customer)),
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def test_a_pg_dump_restores_into_a_database_the_portal_serves(tmp_path):
    databases = [create_postgres_database(), create_postgres_database()]
    (_, source), (_, copy) = databases
    config = {"SECRET_KEY": secrets.token_hex(32), "JWT_KEYS_PATH": str(tmp_path / "keys.json")}
    try:
        migrate.upgrade(source)
        original = create_app({**config, "DATABASE_URL": source})
        with original.app_context():
            org = make_org()
            shopper = make_customer(org, password=PASSWORD)
            make_customer(org)
            db.session.commit()
            before, slug, email = counts(), org.slug, shopper.email
        db.engine_of(original).dispose()

        dump = tmp_path / "portal.dump"
        backup = ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", libpq(source)]
        subprocess.run(backup, check=True)  # noqa: S603 - fixed command
        restore = ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq(copy)}", str(dump)]
        subprocess.run(restore, check=True)  # noqa: S603 - fixed command

        restored = create_app({**config, "DATABASE_URL": copy})
        with restored.app_context():
            assert counts() == before
        client = restored.test_client()
        assert client.get("/ready").json == {"status": "ready"}
        login_page = client.get(f"/{slug}/account/login")
        token = CSRF.search(login_page.text).group(1)
        login = client.post(
            f"/{slug}/account/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
        assert login.status_code == 303 and not header_problems(login.request.path, False, login.headers)
        assert client.get(f"/{slug}/account/").status_code == 200  # the password hash came through intact
        db.engine_of(restored).dispose()
    finally:
        for name, _url in databases:
            drop_postgres_database(name)
