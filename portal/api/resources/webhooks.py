"""Webhooks, events and event callbacks in the API. Writes need an admin integration token (the registry gives
read-only integrations reads only); the shared secret is shown to admin tokens only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, cast

from portal.api.registry import (
    ALL,
    READ,
    REGISTRY,
    Attr,
    Rel,
    Resource,
    actor_of,
    check_trigger,
    common_attrs,
    include_paths,
    plain_delete,
    refuse_relationships,
    timestamp,
)
from portal.errors import Invalid
from portal.models import EventCallback, OutboxMessage, Webhook
from portal.models.staff import Role
from portal.security.tokens import TokenContext
from portal.services import webhooks

WEBHOOK_TRIGGERS = ("_disable", "_enable", "_reset_circuit", "_regenerate_shared_secret")
CREATE_TRIGGERS = ("_disable", "_enable")


def _triggers(attributes: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    found = {name: attributes.pop(name) for name in names if name in attributes}
    for name, value in found.items():
        check_trigger(name, value)
    if "_disable" in found and "_enable" in found:
        raise Invalid("cannot be sent with _enable", field="_disable", code="invalid")
    return found


def includable(resource_type: str) -> set[str]:
    """The `include` paths of the resource a webhook's body may name, except those about the request's own token:
    the worker builds the body with none."""
    resource = REGISTRY.get(resource_type)
    return set(include_paths(resource, of_token=False)) if resource else set()


def _apply(ctx: TokenContext, webhook: Webhook, triggers: dict[str, Any]) -> None:
    actor = actor_of(ctx)
    if "_disable" in triggers or "_enable" in triggers:
        webhooks.set_enabled(actor, ctx.organization, webhook, "_enable" in triggers)
    if "_reset_circuit" in triggers:
        webhooks.reset_circuit(actor, ctx.organization, webhook)
    if "_regenerate_shared_secret" in triggers:
        webhooks.rotate_secret(actor, ctx.organization, webhook)


def _create(ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]) -> Webhook:
    refuse_relationships(relationships, set())
    triggers = _triggers(attributes, CREATE_TRIGGERS)
    webhook = webhooks.create_webhook(actor_of(ctx), ctx.organization, attributes)
    _apply(ctx, webhook, triggers)
    return webhook


def _update(
    ctx: TokenContext, webhook: Webhook, attributes: dict[str, Any], relationships: dict[str, Any]
) -> Webhook:
    refuse_relationships(relationships, set())
    triggers = _triggers(attributes, WEBHOOK_TRIGGERS)
    if attributes:
        webhooks.update_webhook(actor_of(ctx), ctx.organization, webhook, attributes)
    _apply(ctx, webhook, triggers)
    return webhook


def _secret(webhook: Webhook, ctx: TokenContext) -> str | None:
    return webhook.shared_secret if ctx.role is Role.ADMIN else None


WEBHOOKS = Resource(
    type="webhooks",
    model=Webhook,
    attrs=[
        Attr("name", column=Webhook.name, filterable=True, sortable=True, creatable=True, updatable=True),
        Attr("topic", column=Webhook.topic, filterable=True, sortable=True, creatable=True, updatable=True),
        Attr("callback_url", creatable=True, updatable=True),
        Attr("include_resources", kind="array", creatable=True, updatable=True),
        Attr("shared_secret", read=_secret),
        Attr("disabled_at", column=Webhook.disabled_at, kind="datetime", filterable=True, sortable=True),
        Attr("circuit_state", column=Webhook.circuit_state, filterable=True, sortable=True),
        Attr(
            "circuit_failure_count",
            column=Webhook.circuit_failure_count,
            kind="integer",
            filterable=True,
            sortable=True,
        ),
        *(Attr(name, write_only=True, creatable=True, updatable=True) for name in CREATE_TRIGGERS),
        Attr("_reset_circuit", write_only=True, updatable=True),
        Attr("_regenerate_shared_secret", write_only=True, updatable=True),
        *common_attrs(Webhook),
    ],
    rels=[
        Rel("last_event_callbacks", "event_callbacks", True, lambda w: EventCallback.webhook_id == w.id),
    ],
    permissions={"integration": ALL},
    create=_create,
    update=_update,
    delete=plain_delete(webhooks.delete_webhook),
)


@dataclass
class EventResource(Resource):
    """Events are the outbox's event rows (emails share the table and are never shown)."""

    def query(self, ctx: TokenContext) -> Select:
        return super().query(ctx).where(OutboxMessage.kind == "event")


def _trigger_event(
    ctx: TokenContext, message: OutboxMessage, attributes: dict[str, Any], relationships: dict[str, Any]
) -> OutboxMessage:
    refuse_relationships(relationships, set())
    if "_trigger" not in attributes:
        raise Invalid("can't be blank", field="_trigger", code="blank")
    check_trigger("_trigger", attributes["_trigger"])
    return webhooks.trigger_event(actor_of(ctx), ctx.organization, message)


EVENTS = EventResource(
    type="events",
    model=OutboxMessage,
    attrs=[
        Attr(
            "id",
            read=lambda o, c: o.public_id,
            column=OutboxMessage.public_id,
            filterable=True,
            sortable=True,
        ),
        Attr("name", read=lambda o, c: o.topic, column=OutboxMessage.topic, filterable=True, sortable=True),
        Attr("created_at", column=OutboxMessage.created_at, kind="datetime", filterable=True, sortable=True),
        Attr("updated_at", read=lambda o, c: timestamp(o.delivered_at or o.created_at), kind="datetime"),
        Attr("reference", read=lambda o, c: None),
        Attr("reference_origin", read=lambda o, c: None),
        Attr("metadata", read=lambda o, c: {}, kind="object"),
        Attr("_trigger", write_only=True, updatable=True),
    ],
    rels=[
        Rel("webhooks", "webhooks", True, lambda e: Webhook.topic == e.topic),
        Rel(
            "last_event_callbacks",
            "event_callbacks",
            True,
            lambda e: EventCallback.outbox_message_id == e.id,
        ),
    ],
    permissions={"integration": READ | {"update"}},
    update=_trigger_event,
)

EVENT_CALLBACKS = Resource(
    type="event_callbacks",
    model=EventCallback,
    attrs=[
        Attr(
            "id",
            read=lambda o, c: o.public_id,
            column=EventCallback.public_id,
            filterable=True,
            sortable=True,
        ),
        Attr("callback_url"),
        Attr("payload", read=lambda o, c: o.payload_object, kind="object"),
        # A string, as Commerce Layer sends it ("200"), and filtered as one.
        Attr(
            "response_code",
            read=lambda o, c: None if o.response_code is None else str(o.response_code),
            column=cast(EventCallback.response_code, String),
            filterable=True,
            sortable=True,
        ),
        Attr("response_message"),
        Attr("topic", column=EventCallback.topic, filterable=True, sortable=True),
        Attr("attempts", kind="integer"),
        Attr(
            "delivered_at", column=EventCallback.delivered_at, kind="datetime", filterable=True, sortable=True
        ),
        Attr("created_at", column=EventCallback.created_at, kind="datetime", filterable=True, sortable=True),
        Attr("updated_at", column=EventCallback.updated_at, kind="datetime", filterable=True, sortable=True),
    ],
    rels=[Rel("webhook", "webhooks", False, lambda c: c.webhook)],
    permissions={"integration": READ},
)
