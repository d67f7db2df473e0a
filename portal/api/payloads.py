"""Webhook bodies: the same JSON:API document the API answers for the event's resource, `include_resources`
included. The worker reaches this through `app.extensions["webhook_payload"]` (set when the API blueprint is
registered), so the job does not import a front door."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal import db
from portal.api.jsonapi import Query
from portal.api.resources import REGISTRY
from portal.api.resources.webhooks import valid_includes
from portal.api.serializer import Serializer
from portal.models.orgs import Organization
from portal.models.staff import ApplicationKind, Role


@dataclass
class WebhookContext:
    """What the serializer asks of a token, for the org's own integration view of a record (an admin's)."""

    organization: Organization
    customer: Any = None
    user: Any = None
    application: Any = None
    custom_claim: Any = None
    markets: list[Any] = field(default_factory=list)
    kind: ApplicationKind = ApplicationKind.INTEGRATION
    role: Role = Role.ADMIN
    owner_type: str | None = None
    token_type: str = "integration:webhook"  # noqa: S105 - a token kind, not a secret


def build(org: Organization, event: dict[str, Any], include_resources: list[str]) -> dict[str, Any]:
    """The document for the event's record; a record gone by now (a `destroy` event) is sent as its identifier."""
    resource = REGISTRY.get(event.get("type", ""))
    identifier = {"id": event.get("id"), "type": event.get("type")}
    if resource is None:
        return {"data": identifier}
    ctx = WebhookContext(org)
    obj = db.session.scalar(resource.query(ctx).where(resource.model.public_id == event.get("id")))  # type: ignore[arg-type]
    if obj is None:
        return {"data": identifier}
    includes = [name.split(".") for name in valid_includes(resource.type, include_resources)]
    serializer = Serializer(ctx, Query(include=includes), resource)  # type: ignore[arg-type]
    return serializer.document(serializer.resource(resource, obj, includes))
