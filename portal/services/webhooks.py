"""Webhooks: an org's subscriptions to event topics, their circuit breaker and shared secret, and the log of their
deliveries (event callbacks). Events are the outbox rows services write with `audit.emit`; the worker
(`portal.jobs.webhooks`) fans each one out to the org's enabled webhooks of its topic and delivers them."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import EventCallback, OutboxMessage, Webhook
from portal.models.orgs import Organization
from portal.security import outbound
from portal.services import validation
from portal.services.audit import Actor, apply_changes, record

# The topics this portal emits (Commerce Layer's names). Every `audit.emit` topic must be here (a test checks).
TOPICS = (
    "customers.create",
    "customers.update",
    "customers.destroy",
    "customers.acquired",
    "customers.repeat",
    "customers.tagged",
    "customers.metadata_update",
    "customers.create_password",
    "customers.anonymization_started",
    "customers.anonymization_completed",
    "customers.anonymization_cancelled",
    "customers.anonymization_failed",
    "customer_addresses.create",
    "customer_addresses.destroy",
    "customer_password_resets.create",
    "customer_subscriptions.create",
    "customer_subscriptions.destroy",
)
FIELDS = frozenset(
    {"name", "topic", "callback_url", "include_resources", "reference", "reference_origin", "metadata"}
)
_INCLUDE = re.compile(r"^[a-z_]+(\.[a-z_]+)*$")
MAX_INCLUDES = 10


def allow_local() -> bool:
    return bool(current_app.config["WEBHOOK_ALLOW_LOCAL"])


def new_secret() -> str:
    return secrets.token_hex(16)


def get_webhook(org: Organization, public_id: str) -> Webhook:
    webhook = db.session.scalar(
        select(Webhook).where(Webhook.organization_id == org.id, Webhook.public_id == public_id)
    )
    if webhook is None:
        raise NotFound("The requested resource was not found", field="id")
    return webhook


def list_webhooks(org: Organization) -> list[Webhook]:
    return list(
        db.session.scalars(select(Webhook).where(Webhook.organization_id == org.id).order_by(Webhook.id))
    )


def check_callback_url(value: Any) -> str:
    """A callback URL that passes the outbound policy now (it is checked again at every delivery)."""
    url = validation.text(value, "callback_url", max_length=2000, required=True)
    assert url is not None
    try:
        outbound.check(url, allow_local=allow_local())
    except outbound.UnsafeURL as error:
        raise Invalid(str(error), field="callback_url", code="invalid") from None
    return url


def _topic(value: Any) -> str:
    topic = validation.text(value, "topic", max_length=64, required=True)
    if topic not in TOPICS:
        raise Invalid(f"is not a supported topic ({', '.join(TOPICS)})", field="topic", code="invalid")
    return topic


def _includes(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_INCLUDES:
        raise Invalid(
            f"must be a list of at most {MAX_INCLUDES} relationship names", field="include_resources"
        )
    for name in value:
        if not isinstance(name, str) or not _INCLUDE.match(name) or len(name) > 64:
            raise Invalid("must be a list of relationship names", field="include_resources", code="invalid")
    return list(dict.fromkeys(value))


def _check_includes(topic: str, names: list[str]) -> None:
    """Only relationships the topic's record can include in a webhook's body: the API's registry knows them, and
    registers the check (`webhook_includes`) so that the API and the admin area refuse the same names."""
    resource_type = topic.split(".")[0]
    allowed = current_app.extensions["webhook_includes"](resource_type)
    wrong = sorted(name for name in names if name not in allowed)
    if wrong:
        raise Invalid(
            f"{wrong[0]} is not an includable relationship of {resource_type}",
            field="include_resources",
            code="invalid",
        )


def _clean(attributes: dict[str, Any], *, creating: bool, topic: str | None = None) -> dict[str, Any]:
    """Validated values of `attributes`; `topic`: the webhook's current one (an update may not send it)."""
    validation.unknown_fields(attributes, FIELDS)
    values: dict[str, Any] = {}
    for field, value in attributes.items():
        if field == "topic":
            values[field] = _topic(value)
        elif field == "callback_url":
            values[field] = check_callback_url(value)
        elif field == "include_resources":
            values[field] = _includes(value)
        elif field == "metadata":
            values["metadata_"] = validation.metadata(value)
        elif field == "name":
            values[field] = validation.text(value, field, required=not creating) or ""
        else:
            values[field] = validation.text(value, field)
    if creating:
        for required in ("topic", "callback_url"):
            if required not in values:
                raise Invalid("can't be blank", field=required, code="blank")
    if values.get("include_resources"):
        _check_includes(values.get("topic", topic), values["include_resources"])
    return values


def create_webhook(actor: Actor, org: Organization, attributes: dict[str, Any]) -> Webhook:
    """Subscribe `callback_url` to a topic. The shared secret is generated here and shown to the creator; the
    name defaults to Commerce Layer's `Webhook <id>`."""
    values = _clean(attributes, creating=True)
    webhook = Webhook(organization_id=org.id, shared_secret=new_secret(), **{"name": "", **values})
    db.session.add(webhook)
    db.session.flush()
    if not webhook.name:
        webhook.name = f"Webhook {webhook.public_id}"
    record(actor, org, "webhook.create", webhook, [k.rstrip("_") for k in values])
    return webhook


def update_webhook(actor: Actor, org: Organization, webhook: Webhook, attributes: dict[str, Any]) -> Webhook:
    values = _clean(attributes, creating=False, topic=webhook.topic)
    apply_changes(actor, org, "webhook.update", webhook, values)
    return webhook


def delete_webhook(actor: Actor, org: Organization, webhook: Webhook) -> None:
    """Delete the webhook and its delivery log (deliveries not yet made are dropped)."""
    record(actor, org, "webhook.destroy", webhook)
    db.session.delete(webhook)
    db.session.flush()


def set_enabled(actor: Actor, org: Organization, webhook: Webhook, enabled: bool) -> Webhook:
    """`_enable` / `_disable`: a disabled webhook receives no new events; pending deliveries wait for it."""
    if webhook.enabled != enabled:
        webhook.disabled_at = None if enabled else db.utcnow()
        db.session.flush()
        record(actor, org, "webhook.enable" if enabled else "webhook.disable", webhook, ["disabled_at"])
    return webhook


def reset_circuit(actor: Actor, org: Organization, webhook: Webhook) -> Webhook:
    """`_reset_circuit`: close the circuit and zero the failure count; deliveries waiting on it resume."""
    webhook.circuit_state, webhook.circuit_failure_count = "closed", 0
    db.session.execute(
        update(EventCallback)
        .where(
            EventCallback.webhook_id == webhook.id,
            EventCallback.delivered_at.is_(None),
            EventCallback.failed_at.is_(None),
        )
        .values(available_at=db.utcnow())
    )
    db.session.flush()
    record(actor, org, "webhook.reset_circuit", webhook, ["circuit_state", "circuit_failure_count"])
    return webhook


def rotate_secret(actor: Actor, org: Organization, webhook: Webhook) -> Webhook:
    """A new shared secret; deliveries from now on are signed with it."""
    webhook.shared_secret = new_secret()
    db.session.flush()
    record(actor, org, "webhook.rotate_secret", webhook, ["shared_secret"])
    return webhook


def recent_callbacks(org: Organization, webhook: Webhook, limit: int = 20) -> list[EventCallback]:
    return list(
        db.session.scalars(
            select(EventCallback)
            .where(EventCallback.organization_id == org.id, EventCallback.webhook_id == webhook.id)
            .order_by(EventCallback.id.desc())
            .limit(limit)
        )
    )


def trigger_event(actor: Actor, org: Organization, message: OutboxMessage) -> OutboxMessage:
    """An event's `_trigger`: deliver it again to every enabled webhook of its topic. Deliveries already made or
    given up are queued again (same idempotency id: it is the same event), and webhooks created since get theirs."""
    if message.kind != "event" or message.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="id")
    now = db.utcnow()
    message.delivered_at, message.available_at = None, now
    db.session.execute(
        update(EventCallback)
        .where(EventCallback.outbox_message_id == message.id)
        .values(delivered_at=None, failed_at=None, attempts=0, available_at=now)
    )
    db.session.flush()
    record(actor, org, "event.trigger", message)
    return message
