"""The lockout holds across processes (issue 12 item 9, issue 17 item 5): two separate portal processes on one
database, with the embedded storage (the database) and with Redis; the per-process memory storage shows the defect.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, select

from portal import migrate
from portal.models import ThrottleCounter
from tests.databases import create_postgres_database, drop_postgres_database
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture()
def shared_database(tmp_path, is_postgres):
    if is_postgres:
        name, url = create_postgres_database()
    else:
        name, url = None, f"sqlite:///{tmp_path / 'shared.db'}"
    migrate.upgrade(url)
    yield url
    if name:
        drop_postgres_database(name)


def _run(env: dict[str, str], *args: str) -> object:
    done = subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-m", "tests.security.counter_process", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "storage, locked",
    [("database://", True), (REDIS, True), ("memory://", False)],
    ids=["database", "redis", "memory-per-process"],
)
def test_the_eleventh_attempt_is_locked_whichever_process_gets_it(shared_database, tmp_path, storage, locked):
    if storage == REDIS:
        redis.Redis.from_url(REDIS).ping()  # Redis is expected on 127.0.0.1:6379 here
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": shared_database,
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PORTAL_SECRET_KEY": secrets.token_hex(32),
        "PORTAL_RATELIMIT_STORAGE_URL": storage,
    }
    email = f"shopper-{secrets.token_hex(4)}@example.com"
    ip = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    client_id = _run(env, "seed", email)["client_id"]
    first = _run(env, "attempt", client_id, email, ip, *[f"wrong {i}" for i in range(5)])
    second = _run(env, "attempt", client_id, email.upper(), ip, *[f"wrong {i}" for i in range(5, 10)])
    assert first == second == [400] * 5
    eleventh = [_run(env, "attempt", client_id, email, ip, PASSWORD) for _ in range(2)]
    assert eleventh == ([[400], [400]] if locked else [[200], [200]])
    if storage == "database://":
        engine = create_engine(shared_database)
        with engine.connect() as connection:
            keys = connection.scalars(select(ThrottleCounter.key_hash)).all()
        engine.dispose()
        assert keys and not any(email in key or ip in key for key in keys)
        assert all(len(key) == 64 for key in keys)


def test_the_worker_deletes_ended_windows_and_keeps_live_ones(app, db_session):
    from datetime import timedelta

    from portal import db
    from portal.jobs.worker import JOBS
    from portal.security import counters

    now = db.utcnow()
    db.session.add_all(
        [
            ThrottleCounter(key_hash="a" * 64, count=3, expires_at=now - timedelta(seconds=1)),
            ThrottleCounter(key_hash="b" * 64, count=3, expires_at=now + timedelta(minutes=5)),
        ]
    )
    db.session.flush()
    assert counters.purge_expired in JOBS
    assert counters.purge_expired(app) == 1
    assert db.session.scalars(select(ThrottleCounter.key_hash)).all() == ["b" * 64]
