"""Webhook delivery crash drill and races, with real worker processes on a committed database: a worker SIGKILLed
between the POST and its bookkeeping loses nothing and the retry carries the same idempotency id; two workers
(PostgreSQL, SKIP LOCKED) deliver each callback once."""

from __future__ import annotations

import os
import subprocess
from collections import Counter

import pytest
from sqlalchemy import select

from portal import db
from portal.models import EventCallback
from portal.services import webhooks
from portal.services.audit import SYSTEM
from tests.factories import make_customer, make_org
from tests.test_anonymization_worker import FLASK, ROOT, worker

ID = "X-CommerceLayer-Idempotency-Id"


def test_a_worker_killed_after_the_post_redelivers_with_the_same_id(committed, tmp_path, receiver):
    org = make_org()
    webhooks.create_webhook(SYSTEM, org, {"topic": "customers.create", "callback_url": receiver.url()})
    make_customer(org)
    db.session.commit()
    killed = worker(committed, tmp_path, PORTAL_WEBHOOK_FAULT="after_send")
    assert killed.returncode == -9, killed.stderr  # SIGKILL: no rollback, no finally
    assert len(receiver.received) == 1
    db.session.rollback()
    [callback] = db.session.scalars(select(EventCallback)).all()
    assert (
        callback.delivered_at is None and callback.attempts == 0
    )  # the kill undid the bookkeeping, not the row
    finished = worker(committed, tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.headers[ID] == second.headers[ID] == callback.public_id
    assert first.body == second.body
    db.session.rollback()
    db.session.refresh(callback)
    assert callback.delivered_at is not None and callback.attempts == 1
    assert worker(committed, tmp_path).returncode == 0
    assert len(receiver.received) == 2  # delivered: never sent again


@pytest.mark.postgres_only
def test_two_worker_processes_deliver_each_callback_once(committed, tmp_path, receiver):
    org = make_org()
    webhooks.create_webhook(SYSTEM, org, {"topic": "customers.create", "callback_url": receiver.url()})
    for _ in range(20):
        make_customer(org)
    db.session.commit()
    environment = {
        **os.environ,
        "PORTAL_DATABASE_URL": committed,
        "PORTAL_INSTANCE_PATH": str(tmp_path / "i"),
    }
    environment.pop("PORTAL_WEBHOOK_FAULT", None)
    command = [str(FLASK), "--app", "portal", "worker", "--once"]
    processes = [subprocess.Popen(command, env=environment, cwd=ROOT) for _ in range(2)]  # noqa: S603
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    sent = Counter(post.headers[ID] for post in receiver.received)
    assert len(sent) == 20 and set(sent.values()) == {1}
    db.session.rollback()
    assert all(c.delivered_at for c in db.session.scalars(select(EventCallback)))
