"""The anonymization worker: planted markers (G2/G3), failures, the crash drill (R3) and races (RL3)."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import String, cast, func, inspect, select

from portal import db
from portal.errors import Invalid
from portal.jobs import anonymizer, claims
from portal.models import (
    ActionToken,
    AnonymizationRequest,
    AuditEvent,
    Customer,
    CustomerAddress,
    LoginSession,
    OAuthToken,
    Order,
    OutboxMessage,
    PasswordReset,
)
from portal.models.customers import AnonymizationStatus
from portal.security import tokens
from portal.services import addresses, anonymization, customers, mail
from portal.services.audit import SYSTEM, Actor, emit
from tests.factories import (
    make_application,
    make_customer,
    make_group,
    make_order,
    make_org,
    make_user,
    token_for,
)

ROOT = Path(__file__).resolve().parent.parent
FLASK = ROOT / ".venv" / "bin" / "flask"
IP = "203.0.113.77"


def address_of(tag: str) -> dict:
    return {
        "first_name": f"{tag}first",
        "last_name": f"{tag}last",
        "company": f"{tag}company",
        "line_1": f"{tag}line1",
        "line_2": f"{tag}line2",
        "city": f"{tag}city",
        "zip_code": f"{tag}zip"[:32],
        "state_code": f"{tag}st"[:32],
        "country_code": "IT",
        "phone": f"{tag}phone"[:64],
        "email": f"{tag}addr@example.com",
        "notes": f"{tag}notes",
        "lat": 45.4642,
        "lng": 9.19,
        "billing_info": f"{tag}billing",
        "reference": f"{tag}ref",
        "reference_origin": f"{tag}origin",
        "metadata": {"who": f"{tag}meta"},
    }


def plant(org, marker: str, ip: str = IP) -> Customer:
    """A customer whose every personal field, and every place it spreads to, holds `marker`."""
    customer = make_customer(
        org,
        f"cnry{marker}@example.com",
        password="correct horse battery",
        group=make_group(org),
        reference=f"{marker}ref",
        reference_origin=f"{marker}origin",
        tax_exemption_code=f"{marker}tax",
        shopper_reference=f"{marker}shopper",
        profile_id=f"{marker}profile",
        metadata={"note": f"{marker}meta"},
    )
    customer.email_verified_at = db.utcnow()
    for n in range(2):
        addresses.add_to_address_book(SYSTEM, org, customer, address_of(f"{marker}book{n}"))
    market = org_market(org)
    for n in range(3):
        order = anonymization_order(org, customer, market, f"{marker}order{n}")
        order.metadata_ = {"gift": f"{marker}gift{n}"}
    db.session.add(
        PasswordReset(
            organization_id=org.id,
            customer=customer,
            token_hash=f"{marker}reset"[:64],
            expires_at=db.utcnow() + timedelta(hours=1),
            metadata_={"m": f"{marker}resetmeta"},
        )
    )
    db.session.add(
        ActionToken(
            token_hash=f"{marker}action"[:64],
            purpose="change_email",
            principal_type="customer",
            principal_id=customer.id,
            organization_id=org.id,
            payload={"email": f"new{marker}@example.com"},
            expires_at=db.utcnow() + timedelta(hours=1),
        )
    )
    db.session.add(
        LoginSession(
            sid=uuid.uuid4().hex,
            principal_type="customer",
            principal_id=customer.id,
            organization_id=org.id,
            ip_address=ip,
            user_agent=f"{marker}agent",
        )
    )
    token_for(make_application(org, "sales_channel")[0], owner=customer)
    token = db.session.scalars(select(OAuthToken).where(OAuthToken.owner_id == customer.id)).one()
    token.custom_claim = {"c": f"{marker}claim"}
    mail.send(org, customer.email, "test_message", customer=customer, name=f"{marker}pending")
    delivered = mail.send(org, customer.email, "test_message", customer=customer, name=f"{marker}delivered")
    delivered.delivered_at = db.utcnow()
    emit(org, "customers.test", customer, customer=customer, leaked=f"{marker}event")
    db.session.flush()
    return customer


def org_market(org):
    from portal.models import Market

    return db.session.scalars(select(Market).where(Market.organization_id == org.id)).first()


def anonymization_order(org, customer, market, tag):
    from portal.services import orders

    order = orders.create_order(
        SYSTEM,
        org,
        market,
        {"currency_code": "EUR", "total_amount_cents": 1234, "total_tax_amount_cents": 222},
        customer=customer,
        billing_address=address_of(f"{tag}bill"),
        shipping_address=address_of(f"{tag}ship"),
    )
    orders.place_order(SYSTEM, org, order)
    return order


def request_due(org, customer, admin=None) -> AnonymizationRequest:
    admin = admin or Actor.of_user(make_user(org, "admin"))
    request = anonymization.request_anonymization(admin, org, customer)
    request.due_at = db.utcnow() - timedelta(seconds=1)
    db.session.flush()
    return request


def scan(needles: list[str]) -> list[str]:
    """Every column of every table of the live schema (reflected; JSON and everything else cast to text)."""
    connection = db.session.connection()
    inspector = inspect(connection)
    hits = []
    from sqlalchemy import column, or_, table

    for name in inspector.get_table_names():
        for col in inspector.get_columns(name):
            value = cast(column(col["name"]), String)
            query = (
                select(func.count())
                .select_from(table(name))
                .where(or_(*(value.contains(n) for n in needles)))
            )
            if connection.scalar(query):
                hits.append(f"{name}.{col['name']}")
    return hits


def needles_of(marker: str) -> list[str]:
    email = f"cnry{marker}@example.com"
    return [
        marker,
        IP,
        hashlib.sha256(email.encode()).hexdigest(),
        hashlib.md5(email.encode()).hexdigest(),  # noqa: S324 - looking for a careless digest, not making one
    ]


def org_totals(org):
    return db.session.execute(
        select(
            func.count(), func.sum(Order.total_amount_cents), func.sum(Order.total_tax_amount_cents)
        ).where(Order.organization_id == org.id)
    ).one()


@pytest.fixture()
def org(db_session):
    return make_org()


def test_planted_markers_are_all_gone_and_the_books_still_balance(app, org, caplog):
    caplog.set_level(logging.DEBUG)
    marker = f"qzx{uuid.uuid4().hex}"
    customer = plant(org, marker)
    bystander = plant(org, f"qzx{uuid.uuid4().hex}", ip="198.51.100.9")
    request_due(org, customer)
    db.session.commit()
    before = org_totals(org)
    assert scan(needles_of(marker))  # the scan finds what is planted

    assert anonymizer.process_due(app) == 1

    assert scan(needles_of(marker)) == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not [n for n in needles_of(marker) if n in logged]
    assert org_totals(org) == before
    db.session.refresh(customer)
    assert customer.anonymization_status is AnonymizationStatus.COMPLETED
    assert customer.email.endswith("@anonymized.invalid") and customer.password_hash is None
    assert customer.customer_addresses == [] and customer.customer_group_id is None
    orders = db.session.scalars(select(Order).where(Order.customer_id == customer.id)).all()
    assert len(orders) == 3 and {o.customer_email for o in orders} == {customer.email}
    # Emptied, not nulled: the API reads `metadata: {}` after an anonymization, as for any other customer.
    assert customer.metadata_ == {} and [o.metadata_ for o in orders] == [{}, {}, {}]
    assert [o.billing_address.metadata_ for o in orders] == [{}, {}, {}]
    assert {o.billing_address.country_code for o in orders} == {"IT"}
    live = select(func.count()).where(
        LoginSession.principal_id == customer.id, LoginSession.revoked_at.is_(None)
    )
    assert db.session.scalar(live) == 0
    assert scan([bystander.email]) != []  # the other customer is untouched


def test_one_audit_and_one_event_per_transition_and_a_rerun_is_a_noop(app, org):
    customer = make_customer(org)
    make_order(org, customer)
    request_due(org, customer)
    db.session.commit()
    assert anonymizer.process_due(app) == 1
    email = customer.email
    assert anonymizer.process_due(app) == 0
    db.session.refresh(customer)
    assert customer.email == email
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.resource_id == customer.public_id)
    )
    assert sorted(a for a in actions if "anonymization_" in a) == [
        "customer.anonymization_completed",
        "customer.anonymization_request",
        "customer.anonymization_started",
    ]
    topics = db.session.scalars(select(OutboxMessage.topic).where(OutboxMessage.customer_id == customer.id))
    assert sorted(t for t in topics if "anonymization" in t) == [
        "customers.anonymization_completed",
        "customers.anonymization_started",
    ]


def test_not_due_or_cancelled_requests_are_left_alone(app, org):
    admin = Actor.of_user(make_user(org, "admin"))
    waiting, cancelled = make_customer(org), make_customer(org)
    anonymization.request_anonymization(admin, org, waiting)
    request_due(org, cancelled, admin)
    anonymization.cancel_anonymization(admin, org, cancelled)
    db.session.commit()
    assert anonymizer.process_due(app) == 0
    assert waiting.anonymization_status is AnonymizationStatus.REQUESTED
    assert cancelled.anonymization_status is AnonymizationStatus.CANCELLED


def test_an_anonymized_customer_is_read_only_cannot_log_in_and_frees_the_email(app, org):
    customer = make_customer(org, "again@example.com", password="correct horse battery")
    jwt = token_for(make_application(org, "sales_channel")[0], owner=customer)
    assert tokens.verify(jwt).customer is customer
    request_due(org, customer)
    db.session.commit()
    anonymizer.process_due(app)
    db.session.refresh(customer)
    assert not customer.is_active
    with pytest.raises(tokens.TokenError):
        tokens.verify(jwt)
    with pytest.raises(Invalid):
        customers.update_customer(SYSTEM, org, customer, {"email": "back@example.com"})
    again = make_customer(org, "again@example.com")
    assert again.id != customer.id and again.is_active


def test_a_failure_marks_the_request_failed_keeps_the_data_and_can_be_requested_again(app, org, caplog):
    marker = f"qzx{uuid.uuid4().hex}"
    customer = plant(org, marker)
    admin = Actor.of_user(make_user(org, "admin"))
    request = request_due(org, customer, admin)
    db.session.commit()
    app.config["ANONYMIZATION_FAULT"] = "erased:raise"
    try:
        assert anonymizer.process_due(app) == 0
    finally:
        del app.config["ANONYMIZATION_FAULT"]
    db.session.refresh(request)
    db.session.refresh(customer)
    assert request.status is AnonymizationStatus.FAILED and request.failed_at is not None
    assert request.failure_reason == "InjectedFault during erase"
    assert customer.anonymization_status is AnonymizationStatus.FAILED
    assert customer.email == f"cnry{marker}@example.com" and len(customer.customer_addresses) == 2
    assert anonymization.info(customer)["status"] == "failed"
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.resource_id == customer.public_id)
    )
    assert [a for a in actions if a == "customer.anonymization_failed"] == ["customer.anonymization_failed"]
    assert db.session.scalar(
        select(func.count()).where(
            OutboxMessage.customer_id == customer.id, OutboxMessage.topic == "customers.anonymization_failed"
        )
    )
    assert marker not in "\n".join(r.getMessage() for r in caplog.records)

    request_due(org, customer, admin)
    db.session.commit()
    assert anonymizer.process_due(app) == 1
    assert scan(needles_of(marker)) == []


# --- crash drill and races: a committed database the worker subprocesses can see -------------------------------


def worker(url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    db.session.rollback()
    environment = {
        **os.environ,
        "PORTAL_DATABASE_URL": url,
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
        "PORTAL_ANONYMIZATION_LEASE": "0",  # a restarted worker does not wait for the dead one's lease
        **env,
    }
    if "PORTAL_ANONYMIZATION_FAULT" not in env:
        environment.pop("PORTAL_ANONYMIZATION_FAULT", None)
    return subprocess.run(  # noqa: S603 - our own venv's flask
        [str(FLASK), "--app", "portal", "worker", "--once"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def snapshot(customer_id: int, marker: str) -> tuple[str, str]:
    """(request status, "original" | "anonymized"), failing on any mix of the two."""
    db.session.rollback()
    email = db.session.scalar(select(Customer.email).where(Customer.id == customer_id))
    status = db.session.scalar(
        select(AnonymizationRequest.status)
        .where(AnonymizationRequest.customer_id == customer_id)
        .order_by(AnonymizationRequest.id.desc())
    )
    pieces = {
        "email": marker in email,
        "book": bool(
            db.session.scalar(select(func.count()).where(CustomerAddress.customer_id == customer_id))
        ),
        "orders": bool(
            db.session.scalar(
                select(func.count()).where(
                    Order.customer_id == customer_id, Order.customer_email.contains(marker)
                )
            )
        ),
        "scan": bool(scan([marker])),
    }
    db.session.rollback()  # no transaction left open while a worker runs
    assert len(set(pieces.values())) == 1, f"half-anonymized: {pieces}"
    return status.value, "original" if pieces["email"] else "anonymized"


def transitions(customer_public_id: str) -> list[str]:
    return sorted(
        db.session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.resource_id == customer_public_id,
                AuditEvent.action.like("customer.anonymization_%"),
            )
        )
    )


@pytest.mark.parametrize(
    "point, left",
    [
        ("claimed", ("requested", "original")),
        ("started", ("started", "original")),
        ("erased", ("started", "original")),
        ("completed", ("completed", "anonymized")),
    ],
)
def test_crash_drill_sigkill_at_each_point_then_restart_finishes_exactly_once(
    committed, tmp_path, point, left
):
    org = make_org()
    marker = f"qzx{uuid.uuid4().hex}"
    customer = plant(org, marker)
    request_due(org, customer)
    db.session.commit()
    customer_id, public_id = customer.id, customer.public_id

    killed = worker(committed, tmp_path, PORTAL_ANONYMIZATION_FAULT=point)
    assert killed.returncode == -9, killed.stderr
    assert snapshot(customer_id, marker) == left

    rerun = worker(committed, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert snapshot(customer_id, marker) == ("completed", "anonymized"), rerun.stderr
    assert transitions(public_id) == [
        "customer.anonymization_completed",
        "customer.anonymization_request",
        "customer.anonymization_started",
    ]
    email = db.session.scalar(select(Customer.email).where(Customer.id == customer_id))

    assert worker(committed, tmp_path).returncode == 0
    assert transitions(public_id) == [
        "customer.anonymization_completed",
        "customer.anonymization_request",
        "customer.anonymization_started",
    ]
    assert db.session.scalar(select(Customer.email).where(Customer.id == customer_id)) == email
    topics = db.session.scalars(
        select(OutboxMessage.topic).where(
            OutboxMessage.customer_id == customer_id, OutboxMessage.topic.like("customers.anonymization_%")
        )
    ).all()
    assert sorted(topics) == ["customers.anonymization_completed", "customers.anonymization_started"]


def needs_postgres(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks and SKIP LOCKED (SQLite runs one worker)")


@pytest.mark.postgres_only
def test_two_worker_processes_process_each_request_exactly_once(committed, tmp_path, is_postgres):
    needs_postgres(is_postgres)
    org = make_org()
    admin = Actor.of_user(make_user(org, "admin"))
    people = [make_customer(org) for _ in range(20)]
    for customer in people:
        make_order(org, customer)
        request_due(org, customer, admin)
    db.session.commit()
    environment = {
        **os.environ,
        "PORTAL_DATABASE_URL": committed,
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    environment.pop("PORTAL_ANONYMIZATION_FAULT", None)
    command = [str(FLASK), "--app", "portal", "worker", "--once"]
    processes = [subprocess.Popen(command, env=environment, cwd=ROOT) for _ in range(2)]  # noqa: S603
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    db.session.rollback()
    for customer in people:
        assert transitions(customer.public_id) == [
            "customer.anonymization_completed",
            "customer.anonymization_request",
            "customer.anonymization_started",
        ]
        db.session.refresh(customer)
        assert customer.anonymization_status is AnonymizationStatus.COMPLETED


def in_thread(app, work):
    """Run `work()` in its own thread, app context and session (its own connection and transaction)."""
    outcome: dict = {}

    def run():
        with app.app_context():
            try:
                outcome["value"] = work()
                db.session.commit()
            except Exception as error:
                db.session.rollback()
                outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def blocked(thread: threading.Thread) -> bool:
    time.sleep(0.5)
    return thread.is_alive()


@pytest.mark.postgres_only
def test_a_cancel_racing_the_start_waits_then_is_refused(app, committed, is_postgres, monkeypatch):
    needs_postgres(is_postgres)
    org = make_org()
    admin = make_user(org, "admin")
    customer = make_customer(org)
    request_due(org, customer, Actor.of_user(admin))
    db.session.commit()
    org_id, user_id, public_id = org.id, admin.id, customer.public_id

    [claimed] = claims.claim(timedelta(seconds=300))  # the worker holds the customer, step 1 not committed
    anonymizer.start(*claimed)
    db.session.flush()
    thread, outcome = in_thread(app, lambda: cancel(org_id, user_id, public_id))
    assert blocked(thread)
    db.session.commit()
    thread.join(10)
    assert isinstance(outcome.get("error"), Invalid)
    monkeypatch.setitem(app.config, "ANONYMIZATION_LEASE", 0)  # this "worker" stopped after step 1
    assert anonymizer.process_due(app) == 1


@pytest.mark.postgres_only
def test_a_cancel_that_holds_the_customer_wins_cleanly(app, committed, is_postgres):
    needs_postgres(is_postgres)
    org = make_org()
    admin = make_user(org, "admin")
    customer = make_customer(org)
    request_due(org, customer, Actor.of_user(admin))
    db.session.commit()
    org_id, user_id, public_id = org.id, admin.id, customer.public_id

    gate = threading.Event()

    def cancel_and_hold():
        result = cancel(org_id, user_id, public_id)
        gate.wait(10)
        return result

    thread, outcome = in_thread(app, cancel_and_hold)
    time.sleep(0.5)
    assert anonymizer.process_due(app) == 0  # the customer is locked: skipped, not waited for
    gate.set()
    thread.join(10)
    assert "error" not in outcome
    assert anonymizer.process_due(app) == 0
    db.session.refresh(customer)
    assert customer.anonymization_status is AnonymizationStatus.CANCELLED
    assert transitions(public_id) == ["customer.anonymization_cancel", "customer.anonymization_request"]


@pytest.mark.postgres_only
def test_an_update_racing_the_anonymization_brings_nothing_back(app, committed, is_postgres):
    needs_postgres(is_postgres)
    org = make_org()
    customer = make_customer(org, "before@example.com")
    request_due(org, customer)
    db.session.commit()
    org_id, public_id = org.id, customer.public_id
    assert anonymizer.process(app, claims.claim(timedelta(seconds=300))) == 1
    # Replay the race at its worst point: step 2 holds the lock with everything erased, not yet committed.
    customer.anonymization_status = AnonymizationStatus.STARTED
    db.session.commit()

    [(request, locked)] = claims.lock([customer.current_anonymization.id])
    request.status = AnonymizationStatus.STARTED
    anonymizer.complete([(request, locked)])
    thread, outcome = in_thread(app, lambda: update(org_id, public_id, "resurrected@example.com"))
    assert blocked(thread)
    db.session.commit()
    thread.join(10)
    assert isinstance(outcome.get("error"), Invalid)
    db.session.rollback()
    assert scan(["resurrected@example.com", "before@example.com"]) == []


def cancel(org_id: int, user_id: int, public_id: str):
    from portal.models import Organization, User

    org = db.session.get(Organization, org_id)
    customer = customers.get_customer(org, public_id, lock=True)
    return anonymization.cancel_anonymization(Actor.of_user(db.session.get(User, user_id)), org, customer)


def update(org_id: int, public_id: str, email: str):
    from portal.models import Organization

    org = db.session.get(Organization, org_id)
    customer = customers.get_customer(org, public_id, lock=True)
    return customers.update_customer(SYSTEM, org, customer, {"email": email})


def test_a_failing_batch_is_retried_request_by_request(app, org):
    admin = Actor.of_user(make_user(org, "admin"))
    people = [make_customer(org) for _ in range(3)]
    for customer in people:
        request_due(org, customer, admin)
    db.session.commit()
    app.config["ANONYMIZATION_FAULT"] = "erased:raise"
    try:
        assert anonymizer.process_due(app) == 0
    finally:
        del app.config["ANONYMIZATION_FAULT"]
    for customer in people:
        db.session.refresh(customer)
        assert customer.anonymization_status is AnonymizationStatus.FAILED
        assert transitions(customer.public_id) == [
            "customer.anonymization_failed",
            "customer.anonymization_request",
            "customer.anonymization_started",
        ]
