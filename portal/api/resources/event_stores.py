"""`event_stores`: the audit trail in Commerce Layer's shape (read-only), and the customers relationships that are
about the caller's own token (`jwt_customer`, `jwt_markets`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false

from portal.api.registry import READ, Attr, Rel, Resource
from portal.models import AuditEvent, Customer, Market
from portal.security.bearer import current_token
from portal.security.tokens import TokenContext

_OWNER_TYPES = {"user": "User", "customer": "Customer"}


def who(event: AuditEvent) -> dict[str, Any]:
    """Commerce Layer's `who`: the owner (a user or a customer), the application, or the worker."""
    if event.actor_type in _OWNER_TYPES:
        return {"owner": {"id": event.actor_id, "type": _OWNER_TYPES[event.actor_type]}}
    if event.actor_type == "application":
        return {"application": {"id": event.actor_id}}
    return {"worker": {"type": event.actor_type}}


def payload(event: AuditEvent) -> dict[str, Any]:
    """What changed: field names and the event's non-personal facts. Values are never stored (audit.record's rule),
    so Commerce Layer's `{field: [from, to]}` becomes `{"changed_fields": [...], **details}`."""
    return {"changed_fields": list(event.changed_fields or []), **(event.details or {})}


EVENT_STORES = Resource(
    type="event_stores",
    model=AuditEvent,
    attrs=[
        Attr(
            "id", read=lambda o, c: o.public_id, column=AuditEvent.public_id, filterable=True, sortable=True
        ),
        Attr("resource_type", column=AuditEvent.resource_type, filterable=True),
        Attr("resource_id", column=AuditEvent.resource_id, filterable=True),
        Attr("event", read=lambda o, c: o.action.split(".", 1)[-1]),
        Attr("ip_address", read=lambda o, c: None),  # not recorded: network details are personal data
        Attr("user_agent", read=lambda o, c: None),
        Attr("uuid", read=lambda o, c: None),
        Attr("payload", read=lambda o, c: payload(o), kind="object"),
        Attr("who", read=lambda o, c: who(o), kind="object"),
        Attr("created_at", column=AuditEvent.created_at, kind="datetime", filterable=True, sortable=True),
        Attr("updated_at", read=lambda o, c: o.created_at, kind="datetime"),
        Attr("reference", read=lambda o, c: None),
        Attr("reference_origin", read=lambda o, c: None),
        Attr("metadata", read=lambda o, c: {}, kind="object"),
    ],
    # Commerce Layer only retrieves event stores by id; listing (filterable by resource) is a harmless superset.
    permissions={"integration": READ},
)


def customer_events(customer: Customer) -> Any:
    return (AuditEvent.resource_type == "customers") & (AuditEvent.resource_id == customer.public_id)


def _token() -> TokenContext:
    return current_token()


def jwt_markets(customer: Customer) -> Any:
    ids = [market.id for market in _token().markets]
    return Market.id.in_(ids) if ids else false()


CUSTOMER_RELS = [
    Rel("event_stores", "event_stores", True, customer_events),
    Rel("jwt_customer", "customers", False, lambda c: _token().customer, of_token=True),
    Rel("jwt_markets", "markets", True, jwt_markets, of_token=True),
]
