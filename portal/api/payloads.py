"""Webhook bodies: the same JSON:API document the API answers for the event's resource, `include_resources`
included. The worker reaches this through `app.extensions["webhook_payload"]` (set when the API blueprint is
registered), so the job does not import a front door."""

from __future__ import annotations

from typing import Any

from portal import db
from portal.api.jsonapi import Query
from portal.api.resources import REGISTRY
from portal.api.resources.webhooks import includable
from portal.api.serializer import Serializer
from portal.models.orgs import Organization
from portal.security.tokens import TokenContext


def build(org: Organization, event: dict[str, Any], include_resources: list[str]) -> dict[str, Any]:
    """The document for the event's record; a record gone by now (a `destroy` event) is sent as its identifier."""
    resource = REGISTRY.get(event.get("type", ""))
    identifier = {"id": event.get("id"), "type": event.get("type")}
    if resource is None:
        return {"data": identifier}
    ctx = TokenContext.admin_view(org)
    obj = db.session.scalar(resource.query(ctx).where(resource.model.public_id == event.get("id")))
    if obj is None:
        return {"data": identifier}
    allowed = includable(resource.type)
    includes = [name.split(".") for name in include_resources if name in allowed]
    serializer = Serializer(ctx, Query(include=includes), resource)
    return serializer.document(serializer.resource(resource, obj, includes))
