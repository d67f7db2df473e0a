"""Scale-out, shown on PostgreSQL: two gunicorn instances (wsgi:app, each its own instance folder, as on two
machines) and job worker processes on one database.

- a shopper session opened on one instance is honoured by the other (the session lives in the database);
- concurrent API writes to one customer through both instances serialize (the customer row is locked);
- 50 due anonymizations and 200 outbox emails are processed exactly once by two workers, although one worker is
  SIGKILLed by the operator mid-delivery (and restarted, as systemd does) and the other SIGKILLs itself inside an
  anonymization batch (the crash-drill hook): the survivors take the dead workers' rows over.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select

from portal import create_app, db, migrate
from portal.models import AnonymizationRequest, AuditEvent, OutboxMessage
from portal.models.customers import AnonymizationStatus
from portal.security import signing_keys
from portal.services import anonymization
from portal.services.audit import Actor
from tests.databases import create_postgres_database, drop_postgres_database
from tests.factories import PASSWORD, make_application, make_customer, make_org, make_user
from tests.serving import environment, free_port, gunicorn, worker

pytestmark = pytest.mark.postgres_only

MEDIA = "application/vnd.api+json"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
EMAILS = 200
ANONYMIZATIONS = 50
WRITES = 40
TOPIC = "scale_out_drill"


@dataclass
class Cluster:
    app: Flask  # the test's own app on the cluster's database (for setting up and checking)
    env: dict[str, str]  # what every process of the installation shares
    instances: list[str]  # base URLs of the two gunicorn instances
    slug: str
    shopper: str
    target: str  # public id of the customer the API writes go to
    client_id: str
    client_secret: str


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    name, url = create_postgres_database()
    migrate.upgrade(url)
    setup = tmp_path_factory.mktemp("setup")
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32), "JWT_KEYS_PATH": str(setup / "keys.json")}
    )
    with app.app_context():
        org = make_org()
        shopper = make_customer(org, password=PASSWORD)
        target = make_customer(org)
        application, client_secret = make_application(org, "integration")
        db.session.commit()
        signing_keys.key_set(app)  # generated once, then given to every instance as configuration
        details = (org.slug, shopper.email, target.public_id, application.client_id, client_secret)
    shared = {
        "PORTAL_DATABASE_URL": url,
        "PORTAL_SECRET_KEY": app.config["SECRET_KEY"],
        "PORTAL_JWT_KEYS": (setup / "keys.json").read_text(),
    }
    try:
        with ExitStack() as stack:
            instances = [
                stack.enter_context(
                    gunicorn(
                        environment(**shared, PORTAL_INSTANCE_PATH=str(tmp_path_factory.mktemp(f"web{n}")))
                    )
                )
                for n in (1, 2)
            ]
            yield Cluster(app, shared, instances, *details)
    finally:
        db.engine_of(app).dispose()
        drop_postgres_database(name)


def csrf_post(http: requests.Session, url: str, data: dict) -> requests.Response:
    page = http.get(url, timeout=30)
    match = CSRF.search(page.text)
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return http.post(url, data={"csrf_token": match.group(1), **data}, timeout=30, allow_redirects=False)


def test_a_session_opened_on_one_instance_works_on_the_other(cluster):
    first, second = cluster.instances
    browser = requests.Session()
    login = csrf_post(
        browser, f"{first}/{cluster.slug}/account/login", {"email": cluster.shopper, "password": PASSWORD}
    )
    assert login.status_code == 303, login.text[:300]

    page = browser.get(f"{second}/{cluster.slug}/account/", timeout=30, allow_redirects=False)
    assert page.status_code == 200 and cluster.shopper in page.text
    stranger = requests.get(f"{second}/{cluster.slug}/account/", timeout=30, allow_redirects=False)
    assert stranger.status_code == 302  # the control: without the cookie, the login page


def test_concurrent_api_writes_through_both_instances_serialize(cluster):
    first, second = cluster.instances
    answer = requests.post(
        f"{first}/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": cluster.client_id,
            "client_secret": cluster.client_secret,
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:300]
    token = answer.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": MEDIA, "Content-Type": MEDIA}
    path = f"/api/customers/{cluster.target}"

    def write(n: int) -> dict:
        attributes = {"reference": f"writer-{n}", "metadata": {"writer": n}}
        body = {"data": {"type": "customers", "id": cluster.target, "attributes": attributes}}
        base = cluster.instances[n % 2]  # a token issued by one instance is honoured by the other
        response = requests.patch(base + path, data=json.dumps(body), headers=headers, timeout=60)
        assert response.status_code == 200, response.text[:300]
        return response.json()["data"]["attributes"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(write, range(WRITES)))

    for answer in answers:  # each write saw its own values, whole
        assert answer["metadata"] == {"writer": int(answer["reference"].removeprefix("writer-"))}
    final = requests.get(second + path, headers=headers, timeout=30).json()["data"]["attributes"]
    assert final["metadata"] == {"writer": int(final["reference"].removeprefix("writer-"))}
    # Last locked, last committed: the stored values are those of the write that updated the row last.
    latest = max(answer["updated_at"] for answer in answers)
    assert final["updated_at"] == latest
    assert final["reference"] in {a["reference"] for a in answers if a["updated_at"] == latest}
    with cluster_session(cluster) as session:
        updates = session.scalar(
            select(func.count()).where(
                AuditEvent.resource_id == cluster.target, AuditEvent.action == "customer.update"
            )
        )
    assert updates == WRITES  # one audit event per write: no write was lost or merged


# --- the job workers ----------------------------------------------------------------------------------------


class SlowInbox:
    """An SMTP server (aiosmtpd) that takes 10 ms per message, so a worker can be killed mid-delivery."""

    def __init__(self):
        self.message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(0.01)
        self.message_ids.append(message_from_bytes(envelope.content)["Message-ID"])
        return "250 OK"

    def outbox_ids(self) -> Counter:
        """How often each outbox row arrived: its public id is in the Message-ID (portal/jobs/mailer.py)."""
        return Counter(re.search(r"<([A-Za-z]+)@", mid).group(1) for mid in self.message_ids)


@contextmanager
def cluster_session(cluster: Cluster) -> Iterator:
    """The test's own session on the cluster's database, committed at the end."""
    with cluster.app.app_context():
        yield db.session
        db.session.commit()


def queue_work(cluster: Cluster) -> tuple[list[str], list[int]]:
    """200 emails and 50 due anonymization requests; returns the emails' and the requests' ids."""
    with cluster_session(cluster) as session:
        org = make_org()
        admin = Actor.of_user(make_user(org, "admin"))
        requests_ = []
        for _ in range(ANONYMIZATIONS):
            request = anonymization.request_anonymization(admin, org, make_customer(org))
            request.due_at = db.utcnow() - timedelta(seconds=1)
            requests_.append(request)
        emails = [
            OutboxMessage(
                organization_id=org.id,
                kind="email",
                topic=TOPIC,
                recipients=[f"reader{n}@example.com"],
                payload={"subject": f"drill {n}", "text": "text", "html": "<p>html</p>"},
            )
            for n in range(EMAILS)
        ]
        session.add_all(emails)
        session.flush()
        return [email.public_id for email in emails], [request.id for request in requests_]


def progress(cluster: Cluster, request_ids: list[int]) -> tuple[int, int]:
    with cluster_session(cluster) as session:
        delivered = session.scalar(
            select(func.count()).where(OutboxMessage.topic == TOPIC, OutboxMessage.delivered_at.is_not(None))
        )
        completed = session.scalar(
            select(func.count()).where(
                AnonymizationRequest.id.in_(request_ids),
                AnonymizationRequest.status == AnonymizationStatus.COMPLETED,
            )
        )
    return delivered, completed


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_workers_process_every_job_exactly_once_through_sigkills(cluster, tmp_path: Path):
    email_ids, request_ids = queue_work(cluster)
    inbox = SlowInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {
        **environment(**cluster.env),
        "PORTAL_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PORTAL_ANONYMIZATION_BATCH": "5",
        "PORTAL_ANONYMIZATION_LEASE": "2",  # a dead worker's batch is taken over after 2 s
    }
    doomed = worker({**env, "PORTAL_ANONYMIZATION_FAULT": "erased"}, "--interval", "0.2")
    killed = worker(env, "--interval", "0.2")
    restarted = None
    try:
        wait_for(lambda: len(inbox.message_ids) >= 60, 60, "60 emails")
        killed.send_signal(signal.SIGKILL)  # the operator's kill -9, mid-delivery
        assert len(inbox.message_ids) < EMAILS
        assert killed.wait(timeout=10) == -signal.SIGKILL
        restarted = worker(env, "--interval", "0.2")  # systemd's Restart=always
        assert doomed.wait(timeout=60) == -signal.SIGKILL  # died inside an anonymization batch
        wait_for(lambda: progress(cluster, request_ids) == (EMAILS, ANONYMIZATIONS), 60, "all jobs done")
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=30) == 0  # a graceful stop
    finally:
        for process in (doomed, killed, restarted):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        smtp.stop()

    arrivals = inbox.outbox_ids()
    assert set(arrivals) >= set(email_ids)  # every email arrived
    # At least once on the wire: only a kill between the SMTP server's 250 and the commit resends one email.
    assert sum(arrivals[public_id] for public_id in email_ids) <= EMAILS + 1
    with cluster_session(cluster) as session:
        attempts = session.scalars(select(OutboxMessage.attempts).where(OutboxMessage.topic == TOPIC)).all()
        assert Counter(attempts) == {1: EMAILS}  # exactly once in the outbox: one recorded delivery each
        for request in session.scalars(
            select(AnonymizationRequest).where(AnonymizationRequest.id.in_(request_ids))
        ):
            assert request.status is AnonymizationStatus.COMPLETED
            actions = session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.resource_id == request.customer.public_id,
                    AuditEvent.action.like("customer.anonymization_%"),
                )
            ).all()
            assert sorted(actions) == [
                "customer.anonymization_completed",
                "customer.anonymization_request",
                "customer.anonymization_started",
            ]
