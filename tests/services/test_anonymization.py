"""Anonymization requests: who may request and cancel, the lifecycle, and the `anonymization_info` shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import db
from portal.errors import Forbidden, Invalid
from portal.jobs import anonymizer
from portal.models import AuditEvent, OutboxMessage
from portal.models.customers import AnonymizationStatus
from portal.services import anonymization
from portal.services.audit import SYSTEM, Actor
from tests.factories import make_customer, make_org, make_user


@pytest.fixture()
def org(db_session):
    return make_org()


@pytest.fixture()
def admin(org):
    return Actor.of_user(make_user(org, "admin"))


def _run_to(app, customer, status):
    """Move a request on through the real worker: make it due, process it (optionally failing)."""
    request = customer.current_anonymization
    request.due_at = db.utcnow() - timedelta(seconds=1)
    db.session.commit()  # as the worker's data is: committed (here: the test's savepoint is released)
    if status is AnonymizationStatus.STARTED:
        app.config["ANONYMIZATION_FAULT"] = "started:raise"
    elif status is AnonymizationStatus.FAILED:
        app.config["ANONYMIZATION_FAULT"] = "claimed:raise"
    try:
        anonymizer.process_due(app)
    finally:
        app.config.pop("ANONYMIZATION_FAULT", None)
    if status is AnonymizationStatus.STARTED:
        # The injected fault after step 1 marked it failed; put it back to where a killed worker leaves it.
        request.status = customer.anonymization_status = AnonymizationStatus.STARTED
        request.failed_at = request.failure_reason = None
        db.session.flush()
    db.session.refresh(customer)
    assert customer.anonymization_status is status


def test_request_queues_with_the_org_delay(org, admin):
    org.anonymization_delay_seconds = 3600
    customer = make_customer(org)
    request = anonymization.request_anonymization(admin, org, customer)
    assert request.status is AnonymizationStatus.REQUESTED
    assert customer.anonymization_status is AnonymizationStatus.REQUESTED
    assert request.due_at - request.requested_at == timedelta(hours=1)
    assert request.requester is admin.user
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "customer.anonymization_request")
    ).one()
    assert event.resource_id == customer.public_id and event.details == {"request": request.public_id}


def test_cancel_before_start(org, admin):
    customer = make_customer(org)
    anonymization.request_anonymization(admin, org, customer)
    request = anonymization.cancel_anonymization(admin, org, customer)
    assert request.status is AnonymizationStatus.CANCELLED and request.cancelled_at is not None
    assert customer.anonymization_status is AnonymizationStatus.CANCELLED
    assert request.cancellation_requester is admin.user
    topics = db.session.scalars(
        select(OutboxMessage.topic).where(OutboxMessage.customer_id == customer.id)
    ).all()
    assert "customers.anonymization_cancelled" in topics


@pytest.mark.parametrize("who", ["read_only", "no_role", "other_org_admin", "disabled_admin", "system"])
@pytest.mark.parametrize("operation", ["request", "cancel"])
def test_only_an_admin_of_the_org_may_request_or_cancel(org, admin, who, operation):
    customer = make_customer(org)
    if operation == "cancel":
        anonymization.request_anonymization(admin, org, customer)
    if who == "read_only":
        actor = Actor.of_user(make_user(org, "read_only"))
    elif who == "no_role":
        actor = Actor.of_user(make_user(None))
    elif who == "other_org_admin":
        actor = Actor.of_user(make_user(make_org(), "admin"))
    elif who == "disabled_admin":
        user = make_user(org, "admin")
        user.disabled_at = db.utcnow()
        actor = Actor.of_user(user)
    else:
        actor = SYSTEM
    before = customer.anonymization_status
    service = (
        anonymization.request_anonymization if operation == "request" else anonymization.cancel_anonymization
    )
    with pytest.raises(Forbidden):
        service(actor, org, customer)
    assert customer.anonymization_status is before


@pytest.mark.parametrize("operation", ["request", "cancel"])
def test_a_customer_of_another_org_is_refused(org, admin, operation):
    other = make_org()
    customer = make_customer(other)
    if operation == "cancel":
        anonymization.request_anonymization(Actor.of_user(make_user(other, "admin")), other, customer)
    service = (
        anonymization.request_anonymization if operation == "request" else anonymization.cancel_anonymization
    )
    with pytest.raises(Forbidden):
        service(admin, org, customer)


@pytest.mark.parametrize(
    "status", [AnonymizationStatus.REQUESTED, AnonymizationStatus.STARTED, AnonymizationStatus.COMPLETED]
)
def test_request_while_pending_or_after_completion_is_invalid(app, org, admin, status):
    customer = make_customer(org)
    anonymization.request_anonymization(admin, org, customer)
    if status is not AnonymizationStatus.REQUESTED:
        _run_to(app, customer, status)
    with pytest.raises(Invalid) as error:
        anonymization.request_anonymization(admin, org, customer)
    assert error.value.field == "_request_anonymization"
    assert len(customer.anonymization_requests) == 1


@pytest.mark.parametrize(
    "status", [AnonymizationStatus.STARTED, AnonymizationStatus.COMPLETED, AnonymizationStatus.FAILED]
)
def test_cancel_once_started_or_finished_is_invalid(app, org, admin, status):
    customer = make_customer(org)
    anonymization.request_anonymization(admin, org, customer)
    _run_to(app, customer, status)
    with pytest.raises(Invalid) as error:
        anonymization.cancel_anonymization(admin, org, customer)
    assert error.value.field == "_cancel_anonymization"
    assert customer.anonymization_status is status


def test_cancel_without_request_or_twice_is_invalid(org, admin):
    customer = make_customer(org)
    with pytest.raises(Invalid):
        anonymization.cancel_anonymization(admin, org, customer)
    anonymization.request_anonymization(admin, org, customer)
    anonymization.cancel_anonymization(admin, org, customer)
    with pytest.raises(Invalid):
        anonymization.cancel_anonymization(admin, org, customer)


@pytest.mark.parametrize("status", [AnonymizationStatus.CANCELLED, AnonymizationStatus.FAILED])
def test_request_again_after_cancelled_or_failed(app, org, admin, status):
    customer = make_customer(org)
    first = anonymization.request_anonymization(admin, org, customer)
    if status is AnonymizationStatus.CANCELLED:
        anonymization.cancel_anonymization(admin, org, customer)
    else:
        _run_to(app, customer, status)
    second = anonymization.request_anonymization(admin, org, customer)
    assert second.id != first.id and first.status is status
    assert customer.current_anonymization is second
    assert customer.anonymization_status is AnonymizationStatus.REQUESTED


def test_services_see_a_change_made_since_the_customer_was_loaded(org, admin):
    """Request and cancel re-read the current request under the lock: a stale object does not decide."""
    customer = make_customer(org)
    request = anonymization.request_anonymization(admin, org, customer)
    db.session.execute(
        request.__table__.update().where(request.__table__.c.id == request.id).values(status="started")
    )
    customer.__dict__["anonymization_status"] = AnonymizationStatus.REQUESTED  # what a stale load would hold
    with pytest.raises(Invalid):
        anonymization.cancel_anonymization(admin, org, customer)
    assert request.status is AnonymizationStatus.STARTED


def test_info_shape(app, org, admin):
    customer = make_customer(org)
    assert anonymization.info(customer) is None
    anonymization.request_anonymization(admin, org, customer)
    info = anonymization.info(customer)
    assert set(info) == {
        "status",
        "requested_at",
        "started_at",
        "completed_at",
        "failed_at",
        "cancelled_at",
        "requester",
        "cancellation_requester",
    }
    assert info["status"] == "requested"
    assert info["requested_at"].endswith(" UTC") and len(info["requested_at"]) == len(
        "2025-03-15 11:39:21 UTC"
    )
    assert info["started_at"] is None and info["cancellation_requester"] is None
    user = admin.user
    assert info["requester"] == {
        "id": user.public_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
    }
    _run_to(app, customer, AnonymizationStatus.COMPLETED)
    info = anonymization.info(customer)
    assert info["status"] == "completed" and info["started_at"] and info["completed_at"]
    assert info["failed_at"] is None
