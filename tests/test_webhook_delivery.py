"""Webhook delivery by the worker, against a real HTTP receiver: signature, headers, include_resources, retries
with backoff, the circuit breaker, crash safety (same idempotency id after a crash), redirects refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import db
from portal.jobs import anonymizer
from portal.jobs import webhooks as delivery
from portal.jobs.worker import JOBS
from portal.models import EventCallback, OutboxMessage
from portal.services import customers, webhooks
from portal.services.audit import SYSTEM
from tests.factories import make_customer, make_group, make_org


def subscribe(org, url, topic="customers.create", **attributes):
    return webhooks.create_webhook(SYSTEM, org, {"topic": topic, "callback_url": url, **attributes})


def later(seconds: float = 0):
    """A `now` for the worker, after everything written so far (the defaults are stamped at flush)."""
    db.session.flush()
    return db.utcnow() + timedelta(seconds=seconds)


def callbacks() -> list[EventCallback]:
    db.session.expire_all()
    return list(db.session.scalars(select(EventCallback).order_by(EventCallback.id)))


def test_the_worker_runs_webhook_delivery():
    assert delivery.deliver_due in JOBS


def test_an_event_is_posted_signed_with_topic_and_idempotency_headers(app, db_session, receiver):
    org = make_org()
    group = make_group(org, "VIP")
    hook = subscribe(org, receiver.url(), include_resources=["customer_group"])
    customer = make_customer(org, "ada@example.com", group=group)
    assert delivery.deliver_due(app, now=later()) == 2  # one event fanned out, one callback sent
    assert delivery.deliver_due(app, now=later(1)) == 0
    [post] = receiver.received
    assert post.path == "/hook"
    expected = base64.b64encode(
        hmac.new(hook.shared_secret.encode(), post.body, hashlib.sha256).digest()
    ).decode()
    assert post.headers["X-CommerceLayer-Signature"] == expected
    assert post.headers["X-CommerceLayer-Topic"] == "customers.create"
    assert post.headers["Content-Type"] == "application/vnd.api+json"
    [callback] = callbacks()
    assert post.headers["X-CommerceLayer-Idempotency-Id"] == callback.public_id
    document = json.loads(post.body)
    assert document["data"]["id"] == customer.public_id and document["data"]["type"] == "customers"
    assert document["data"]["attributes"]["email"] == "ada@example.com"
    assert [(i["type"], i["id"]) for i in document["included"]] == [("customer_groups", group.public_id)]
    assert callback.response_code == 200 and callback.delivered_at is not None and callback.attempts == 1
    assert callback.response_message == "answer 200"


def test_only_enabled_webhooks_of_the_topic_and_org_receive(app, db_session, receiver):
    org, other = make_org(), make_org()
    subscribe(org, receiver.url("/create"))
    subscribe(org, receiver.url("/destroy"), topic="customers.destroy")
    disabled = subscribe(org, receiver.url("/disabled"))
    webhooks.set_enabled(SYSTEM, org, disabled, False)
    subscribe(other, receiver.url("/other"))
    make_customer(org)
    delivery.deliver_due(app, now=later())
    assert [r.path for r in receiver.received] == ["/create"]


def test_a_destroyed_record_is_sent_as_its_identifier(app, db_session, receiver):
    org = make_org()
    subscribe(org, receiver.url(), topic="customers.destroy")
    customer = make_customer(org)
    public_id = customer.public_id
    customers.delete_customer(SYSTEM, org, customer)
    delivery.deliver_due(app, now=later())
    [post] = receiver.received
    assert json.loads(post.body) == {"data": {"id": public_id, "type": "customers"}}


def test_failures_retry_with_exponential_backoff_then_succeed_once(app, db_session, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_BACKOFF", 10)
    org = make_org()
    subscribe(org, receiver.url())
    make_customer(org)
    receiver.script = [500, 503]
    start = later()
    delivery.deliver_due(app, now=start)
    [callback] = callbacks()
    assert callback.attempts == 1 and callback.response_code == 500 and callback.delivered_at is None
    assert callback.available_at == start + timedelta(seconds=10)
    assert delivery.send_due(app, now=start + timedelta(seconds=9)) == 0  # not due yet
    delivery.send_due(app, now=start + timedelta(seconds=10))
    [callback] = callbacks()
    assert callback.attempts == 2 and callback.available_at == start + timedelta(seconds=30)  # 10 + 20
    delivery.send_due(app, now=start + timedelta(seconds=30))
    [callback] = callbacks()
    assert callback.attempts == 3 and callback.response_code == 200 and callback.delivered_at is not None
    assert callback.webhook.circuit_failure_count == 0  # a success resets the count
    assert len(receiver.received) == 3
    assert len({r.headers["X-CommerceLayer-Idempotency-Id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    assert delivery.send_due(app, now=start + timedelta(days=2)) == 0


def test_retries_run_out(app, db_session, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ATTEMPTS", 2)
    monkeypatch.setitem(app.config, "WEBHOOK_BACKOFF", 1)
    org = make_org()
    subscribe(org, receiver.url())
    make_customer(org)
    receiver.script = [500] * 5
    delivery.deliver_due(app, now=later())
    delivery.send_due(app, now=later(5))
    [callback] = callbacks()
    assert callback.attempts == 2 and callback.failed_at is not None
    assert delivery.send_due(app, now=later(3600)) == 0
    assert len(receiver.received) == 2


def test_the_circuit_opens_after_consecutive_failures_and_reset_resumes(
    app, db_session, receiver, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_CIRCUIT_THRESHOLD", 3)
    monkeypatch.setitem(app.config, "WEBHOOK_BACKOFF", 1)
    org = make_org()
    hook = subscribe(org, receiver.url())
    for _ in range(3):
        make_customer(org)
    receiver.script = [500, 500, 500]
    delivery.deliver_due(app, now=later())
    db.session.refresh(hook)
    assert hook.circuit_state == "open" and hook.circuit_failure_count == 3
    make_customer(org)
    assert delivery.deliver_due(app, now=later(3600)) == 1  # the new event is fanned out, nothing is sent
    assert len(receiver.received) == 3
    webhooks.reset_circuit(SYSTEM, org, hook)
    assert hook.circuit_state == "closed" and hook.circuit_failure_count == 0
    assert delivery.send_due(app, now=later(3600)) == 4
    assert len(receiver.received) == 7 and all(c.delivered_at for c in callbacks())


def test_the_default_circuit_threshold_is_commerce_layers(app):
    assert app.config["WEBHOOK_CIRCUIT_THRESHOLD"] == 30


def test_a_redirect_is_not_followed_and_counts_as_a_failure(app, db_session, receiver):
    org = make_org()
    subscribe(org, receiver.url())
    make_customer(org)
    receiver.script = [(302, receiver.url("/elsewhere"))]
    delivery.deliver_due(app, now=later())
    assert [r.path for r in receiver.received] == ["/hook"]
    [callback] = callbacks()
    assert callback.response_code == 302 and callback.delivered_at is None and callback.attempts == 1


def test_a_dead_receiver_is_a_failed_attempt_not_a_crash(app, db_session, receiver):
    org = make_org()
    subscribe(org, "http://127.0.0.1:9/nothing-listens")
    make_customer(org)
    delivery.deliver_due(app, now=later())
    [callback] = callbacks()
    assert callback.response_code is None and callback.response_message == "NewConnectionError"
    assert callback.attempts == 1 and callback.delivered_at is None


def test_a_url_that_became_unsafe_is_refused_at_delivery(app, db_session, receiver, monkeypatch):
    org = make_org()
    subscribe(org, receiver.url())
    make_customer(org)
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOCAL", False)  # e.g. deployed with the flag now off
    delivery.deliver_due(app, now=later())
    assert receiver.received == []
    [callback] = callbacks()
    assert callback.response_message.startswith("refused: callback_url") and callback.delivered_at is None


def test_a_crash_between_send_and_bookkeeping_redelivers_with_the_same_id(
    app, db_session, receiver, monkeypatch
):
    org = make_org()
    subscribe(org, receiver.url())
    make_customer(org)
    delivery.fan_out(app, now=later())
    monkeypatch.setitem(app.config, "WEBHOOK_FAULT", "after_send:raise")
    with pytest.raises(anonymizer.InjectedFault):
        delivery.send_due(app, now=later())
    db.session.rollback()  # what the worker does when a job raises (worker.run_due)
    [callback] = callbacks()
    assert callback.attempts == 0 and callback.delivered_at is None  # the attempt left no trace but the POST
    monkeypatch.setitem(app.config, "WEBHOOK_FAULT", None)
    assert delivery.send_due(app, now=later()) == 1
    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.headers["X-CommerceLayer-Idempotency-Id"] == second.headers["X-CommerceLayer-Idempotency-Id"]
    assert first.body == second.body
    assert first.headers["X-CommerceLayer-Signature"] == second.headers["X-CommerceLayer-Signature"]


def test_fan_out_twice_writes_one_callback_per_webhook(app, db_session, receiver):
    org = make_org()
    subscribe(org, receiver.url())
    make_customer(org)
    delivery.fan_out(app, now=later())
    event = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "event"))
    event.delivered_at = None  # as if the fan-out's commit had been lost after its callbacks were written
    delivery.fan_out(app, now=later())
    assert len(callbacks()) == 1


def test_trigger_sends_an_event_again(app, db_session, receiver):
    org = make_org()
    subscribe(org, receiver.url())
    make_customer(org)
    delivery.deliver_due(app, now=later())
    event = db.session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "customers.create"))
    webhooks.trigger_event(SYSTEM, org, event)
    delivery.deliver_due(app, now=later(1))
    assert len(receiver.received) == 2 and len(callbacks()) == 1


def test_anonymization_reduces_stored_bodies_to_the_identifier(app, db_session, receiver):
    from portal.services import traces

    org = make_org()
    subscribe(org, receiver.url())
    customer = make_customer(org, "grace@example.com")
    delivery.fan_out(app, now=later())
    [callback] = callbacks()
    assert "grace@example.com" in callback.payload
    traces.erase([customer.id], {(org.id, "grace@example.com")})
    [callback] = callbacks()
    assert json.loads(callback.payload) == {"data": {"id": customer.public_id, "type": "customers"}}


def test_pending_deliveries_follow_a_corrected_url(app, db_session, receiver):
    org = make_org()
    hook = subscribe(org, "http://127.0.0.1:9/wrong")
    make_customer(org)
    delivery.deliver_due(app, now=later())
    assert receiver.received == []
    webhooks.update_webhook(SYSTEM, org, hook, {"callback_url": receiver.url("/right")})
    delivery.send_due(app, now=later(3600))
    assert [r.path for r in receiver.received] == ["/right"]
    [callback] = callbacks()
    assert callback.callback_url == receiver.url("/right") and callback.delivered_at is not None


def test_a_stopping_worker_sends_nothing_more(app, db_session, receiver):
    from portal import jobs

    org = make_org()
    subscribe(org, receiver.url())
    make_customer(org)
    delivery.fan_out(app, now=later())
    jobs.STOPPING.set()
    try:
        assert delivery.send_due(app, now=later()) == 0
    finally:
        jobs.STOPPING.clear()
    assert receiver.received == [] and delivery.send_due(app, now=later()) == 1


def test_a_webhook_stored_with_a_token_relationship_still_delivers(app, db_session, receiver):
    """`jwt_customer` and `jwt_markets` are about a request's token; the worker has none. A webhook that names them
    (stored before the API refused them) gets its body without them, and other orgs' events are not held up."""
    org, other = make_org(), make_org()
    hook = subscribe(org, receiver.url("/org"), include_resources=["customer_group"])
    hook.include_resources = ["jwt_markets", "jwt_customer.customer_group", "customer_group"]
    subscribe(other, receiver.url("/other"))
    make_customer(org, group=make_group(org, "VIP"))
    make_customer(other)
    delivery.deliver_due(app, now=later())
    assert sorted(r.path for r in receiver.received) == ["/org", "/other"]
    [body] = [json.loads(r.body) for r in receiver.received if r.path == "/org"]
    assert [i["type"] for i in body["included"]] == ["customer_groups"]


def test_a_body_that_cannot_be_built_waits_and_everything_else_goes_on(
    app, db_session, receiver, monkeypatch
):
    """One webhook's body failing (a bug; here a hand-written event row whose id the query can't bind) holds up
    neither the other webhooks of its event nor other organizations' events, and is retried once it builds."""
    org, other = make_org(), make_org()
    subscribe(org, receiver.url("/broken"), include_resources=["customer_group"])
    subscribe(org, receiver.url("/fine"))
    subscribe(other, receiver.url("/other"))
    make_customer(org)
    make_customer(other)
    build = app.extensions["webhook_payload"]

    def build_or_fail(
        org_, event, include
    ):  # the failure of a query building the body, as the attacker staged it
        if include:
            return build(org_, {**event, "id": {"not": "an id"}}, include)
        return build(org_, event, include)

    monkeypatch.setitem(app.extensions, "webhook_payload", build_or_fail)
    now = later()
    delivery.deliver_due(app, now=now)
    assert sorted(r.path for r in receiver.received) == ["/fine", "/other"]
    stuck = db.session.scalar(select(OutboxMessage).where(OutboxMessage.organization_id == org.id))
    assert stuck.delivered_at is None and stuck.attempts == 1 and stuck.last_error
    assert stuck.available_at == now + timedelta(seconds=app.config["WEBHOOK_BACKOFF"])

    monkeypatch.setitem(app.extensions, "webhook_payload", build)  # fixed
    delivery.deliver_due(app, now=later(1))
    assert len(receiver.received) == 2  # not due yet
    delivery.deliver_due(app, now=later(app.config["WEBHOOK_BACKOFF"] + 1))
    assert sorted(r.path for r in receiver.received) == ["/broken", "/fine", "/other"]  # each once
    db.session.refresh(stuck)
    assert stuck.delivered_at is not None and stuck.last_error is None
