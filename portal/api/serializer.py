"""JSON:API resource objects from the registry: sparse fieldsets, relationship links, `include` collected once each."""

from __future__ import annotations

from typing import Any

from flask import current_app

from portal import db
from portal.api.jsonapi import PAGE_SIZE_MAX, ApiError, Query
from portal.api.registry import Resource, check_include
from portal.api.resources import REGISTRY
from portal.security.tokens import TokenContext


class Serializer:
    """Builds resource objects, honouring sparse fieldsets and collecting included resources once each."""

    def __init__(self, ctx: TokenContext, query: Query, root: Resource):
        self.ctx, self.query, self.root = ctx, query, root
        self.base = current_app.config["BASE_URL"].rstrip("/") + "/api"
        self.included: dict[tuple[str, str], dict[str, Any]] = {}
        self._shown: dict[
            str, tuple[list[Any], list[Any]]
        ] = {}  # per type: attributes and relationships shown
        self._check_fields()
        self.includes = self._check_includes()

    def _check_fields(self) -> None:
        for type_name, names in self.query.fields.items():
            resource = REGISTRY.get(type_name)
            if resource is None:
                raise ApiError(
                    400,
                    "INVALID_RESOURCE",
                    "Invalid resource",
                    f"{type_name} is not a valid resource.",
                    parameter=f"fields[{type_name}]",
                )
            known = {a.name for a in resource.attrs if not a.write_only} | set(resource.rel_map)
            for name in names:
                if name not in known:
                    raise ApiError(
                        400,
                        "INVALID_FIELD",
                        "Invalid field",
                        f"{name} is not a valid field for {type_name}.",
                        parameter=f"fields[{type_name}]",
                    )

    def _check_includes(self) -> list[list[str]]:
        for path in self.query.include:
            check_include(self.root, path)
        return self.query.include

    def _wanted(self, resource: Resource, name: str) -> bool:
        fields = self.query.fields.get(resource.type)
        return fields is None or name in fields

    def _fields(self, resource: Resource) -> tuple[list[Any], list[Any]]:
        """The attributes and relationships a resource object of this type shows (worked out once per type)."""
        shown = self._shown.get(resource.type)
        if shown is None:
            attrs = [
                a
                for a in resource.attrs
                if not a.write_only and a.name != "id" and self._wanted(resource, a.name)
            ]
            shown = self._shown[resource.type] = (
                attrs,
                [r for r in resource.rels if self._wanted(resource, r.name)],
            )
        return shown

    def resource(
        self, resource: Resource, obj: Any, includes: list[list[str]] | None = None
    ) -> dict[str, Any]:
        self_link = f"{self.base}/{resource.type}/{obj.public_id}"
        attrs, rels = self._fields(resource)
        ctx = self.ctx
        attributes = {a.name: a.value(obj, ctx) for a in attrs}
        relationships = {}
        for rel in rels:
            body: dict[str, Any] = {
                "links": {
                    "self": f"{self_link}/relationships/{rel.name}",
                    "related": f"{self_link}/{rel.name}",
                }
            }
            nested = [path[1:] for path in includes or [] if path[0] == rel.name]
            if nested:
                body["data"] = self._include(rel, obj, nested)
            relationships[rel.name] = body
        result = {
            "id": obj.public_id,
            "type": resource.type,
            "links": {"self": self_link},
            "attributes": attributes,
            "relationships": relationships,
            "meta": {"mode": "test", "organization_id": self.ctx.organization_public_id},
        }
        return result

    def _include(self, rel, obj: Any, nested: list[list[str]]) -> Any:
        target = REGISTRY[rel.type]
        children = [path for path in nested if path]
        if rel.many:
            related = db.session.scalars(
                target.query(self.ctx).where(rel.target(obj)).order_by(target.model.id).limit(PAGE_SIZE_MAX)
            ).all()
        else:
            one = visible_target(target, self.ctx, rel.target(obj))
            related = [one] if one is not None else []
        for item in related:
            key = (target.type, item.public_id)
            if key not in self.included:
                self.included[key] = {}
                self.included[key] = self.resource(target, item, children)
        linkage = [{"type": target.type, "id": item.public_id} for item in related]
        return linkage if rel.many else (linkage[0] if linkage else None)

    def document(self, data: Any, **extra: Any) -> dict[str, Any]:
        body = {"data": data, **extra}
        if self.included:
            body["included"] = list(self.included.values())
        return body


def visible_target(target: Resource, ctx: TokenContext, related: Any) -> Any:
    """`related` when the caller may see it as a `target`, else None: `include`, `/related` and `/relationships`
    apply one visibility rule, so no route reveals even the id of a record another hides."""
    if related is None:
        return None
    query = target.query(ctx).where(target.model.id == related.id).with_only_columns(target.model.id)
    return related if db.session.scalar(query) is not None else None
