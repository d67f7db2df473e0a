"""Webhooks, events and event callbacks in the API: CRUD, triggers, permissions by token kind, tenancy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import db
from portal.jobs import webhooks as delivery
from portal.models import OutboxMessage, Webhook
from portal.services import mail
from tests.api.test_resources import doc
from tests.factories import make_customer


def create(api, tenant, url, **attributes):
    body = doc("webhooks", {"topic": "customers.create", "callback_url": url, **attributes})
    return api("POST", "/api/webhooks", tenant.admin, body)


def patch(api, token, webhook_id, attributes):
    return api("PATCH", f"/api/webhooks/{webhook_id}", token, doc("webhooks", attributes, id=webhook_id))


def run_worker(app):
    db.session.flush()
    delivery.deliver_due(app, now=db.utcnow() + timedelta(seconds=1))


def test_create_returns_the_generated_secret_and_defaults(api, tenant, receiver):
    created = create(api, tenant, receiver.url(), include_resources=["customer_group"])
    assert created.status_code == 201
    data = created.json["data"]
    attributes = data["attributes"]
    assert len(attributes["shared_secret"]) == 32
    assert attributes["name"] == f"Webhook {data['id']}"
    assert attributes["circuit_state"] == "closed" and attributes["circuit_failure_count"] == 0
    assert attributes["disabled_at"] is None and attributes["include_resources"] == ["customer_group"]
    listed = api("GET", "/api/webhooks?filter[q][topic_eq]=customers.create", tenant.admin).json["data"]
    assert [w["id"] for w in listed] == [data["id"]]


def test_includes_are_checked_against_the_topic_as_stored(api, tenant, receiver):
    created = create(api, tenant, receiver.url(), topic=" customers.update ", include_resources=["tags"])
    assert created.status_code == 201, created.json
    assert created.json["data"]["attributes"]["topic"] == "customers.update"
    hook_id = created.json["data"]["id"]
    moved = patch(
        api, tenant.admin, hook_id, {"topic": "customer_addresses.create", "include_resources": ["tags"]}
    )
    assert moved.status_code == 422 and "tags is not an includable relationship of customer_addresses" in str(
        moved.json
    )


@pytest.mark.parametrize(
    ("attributes", "pointer", "detail"),
    [
        ({"topic": "orders.place"}, "topic", "is not a supported topic"),
        ({"topic": None}, "topic", "can't be blank"),
        ({"callback_url": "https://10.0.0.1/x"}, "callback_url", "private, loopback or reserved"),
        ({"callback_url": "ftp://example.com/x"}, "callback_url", "https"),
        ({"include_resources": ["nope"]}, "include_resources", "nope is not an includable relationship"),
        ({"include_resources": ["jwt_markets"]}, "include_resources", "jwt_markets is not an includable"),
        ({"include_resources": ["jwt_customer.tags"]}, "include_resources", "jwt_customer.tags is not an"),
        (  # the topic as the service reads it (trimmed): its includes are checked against that
            {"topic": " customers.update ", "include_resources": ["tags", "jwt_markets"]},
            "include_resources",
            "jwt_markets is not an includable relationship of customers",
        ),
        ({"include_resources": "customer_group"}, "include_resources", "list"),
        ({"_disable": "yes"}, "_disable", "must be true"),
    ],
)
def test_bad_input_is_refused_precisely(api, tenant, receiver, attributes, pointer, detail):
    body = {"topic": "customers.create", "callback_url": receiver.url(), **attributes}
    answer = api("POST", "/api/webhooks", tenant.admin, doc("webhooks", body))
    assert answer.status_code == 422, answer.json
    error = answer.json["errors"][0]
    assert error["source"]["pointer"] == f"/data/attributes/{pointer}" and detail in error["detail"]
    assert db.session.scalar(select(Webhook)) is None


def test_triggers_disable_enable_reset_and_regenerate(api, tenant, receiver):
    data = create(api, tenant, receiver.url()).json["data"]
    hook_id, secret = data["id"], data["attributes"]["shared_secret"]
    disabled = patch(api, tenant.admin, hook_id, {"_disable": True}).json["data"]["attributes"]
    assert disabled["disabled_at"] is not None
    assert (
        patch(api, tenant.admin, hook_id, {"_enable": True}).json["data"]["attributes"]["disabled_at"] is None
    )
    hook = db.session.scalar(select(Webhook).where(Webhook.public_id == hook_id))
    hook.circuit_state, hook.circuit_failure_count = "open", 30
    reset = patch(api, tenant.admin, hook_id, {"_reset_circuit": True}).json["data"]["attributes"]
    assert reset["circuit_state"] == "closed" and reset["circuit_failure_count"] == 0
    rotated = patch(api, tenant.admin, hook_id, {"_regenerate_shared_secret": True}).json["data"][
        "attributes"
    ]
    assert rotated["shared_secret"] != secret
    both = patch(api, tenant.admin, hook_id, {"_disable": True, "_enable": True})
    assert both.status_code == 422


def test_read_only_and_sales_channel_tokens(api, tenant, receiver):
    hook_id = create(api, tenant, receiver.url()).json["data"]["id"]
    seen = api("GET", f"/api/webhooks/{hook_id}", tenant.read_only)
    assert seen.status_code == 200 and seen.json["data"]["attributes"]["shared_secret"] is None
    assert patch(api, tenant.read_only, hook_id, {"name": "x"}).status_code == 401
    assert api("DELETE", f"/api/webhooks/{hook_id}", tenant.read_only).status_code == 401
    refused = api("POST", "/api/webhooks", tenant.read_only, doc("webhooks", {"topic": "customers.create"}))
    assert refused.status_code == 401
    for path in ("/api/webhooks", "/api/events", "/api/event_callbacks", f"/api/webhooks/{hook_id}"):
        assert api("GET", path, tenant.guest).status_code == 401


def test_another_orgs_webhooks_events_and_callbacks_are_not_found(app, api, tenant, other, receiver):
    hook_id = create(api, tenant, receiver.url()).json["data"]["id"]
    make_customer(tenant.org)
    run_worker(app)
    event_id = api("GET", "/api/events", tenant.admin).json["data"][0]["id"]
    callback_id = api("GET", "/api/event_callbacks", tenant.admin).json["data"][0]["id"]
    for path in (
        f"/api/webhooks/{hook_id}",
        f"/api/events/{event_id}",
        f"/api/event_callbacks/{callback_id}",
    ):
        assert api("GET", path, other.admin).status_code == 404
    assert patch(api, other.admin, hook_id, {"name": "mine"}).status_code == 404
    assert api("DELETE", f"/api/webhooks/{hook_id}", other.admin).status_code == 404
    for path in ("/api/webhooks", "/api/events", "/api/event_callbacks"):
        assert api("GET", path, other.admin).json["data"] == []


def test_events_and_their_callbacks(app, api, tenant, receiver):
    hook_id = create(api, tenant, receiver.url()).json["data"]["id"]
    customer = make_customer(tenant.org)
    mail.send(tenant.org, "someone@example.com", "test_message", name="Sam")  # emails are not events
    run_worker(app)
    events = api("GET", "/api/events?include=last_event_callbacks,webhooks", tenant.admin).json
    assert [e["attributes"]["name"] for e in events["data"]] == ["customers.create"]
    included = {(i["type"], i["id"]) for i in events["included"]}
    assert ("webhooks", hook_id) in included
    [callback] = api("GET", f"/api/webhooks/{hook_id}/last_event_callbacks", tenant.admin).json["data"]
    attributes = callback["attributes"]
    assert attributes["callback_url"] == receiver.url() and attributes["response_code"] == "200"
    assert attributes["payload"]["data"]["id"] == customer.public_id
    assert attributes["response_message"] == "answer 200"
    failed = api("GET", "/api/event_callbacks?filter[q][response_code_eq]=500", tenant.admin).json["data"]
    delivered = api("GET", "/api/event_callbacks?filter[q][response_code_eq]=200", tenant.admin).json["data"]
    assert failed == [] and [c["id"] for c in delivered] == [callback["id"]]
    event_id = events["data"][0]["id"]
    body = doc("events", {"_trigger": True}, id=event_id)
    assert api("PATCH", f"/api/events/{event_id}", tenant.read_only, body).status_code == 401
    assert api("PATCH", f"/api/events/{event_id}", tenant.admin, body).status_code == 200
    run_worker(app)
    assert len(receiver.received) == 2
    email = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "email"))
    assert api("GET", f"/api/events/{email.public_id}", tenant.admin).status_code == 404


def test_delete(api, tenant, receiver):
    hook_id = create(api, tenant, receiver.url()).json["data"]["id"]
    assert api("DELETE", f"/api/webhooks/{hook_id}", tenant.admin).status_code == 204
    assert api("GET", f"/api/webhooks/{hook_id}", tenant.admin).status_code == 404
