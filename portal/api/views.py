"""Generic JSON:API endpoints over the resource registry: list, retrieve, create, update, delete, related."""

from __future__ import annotations

from math import ceil
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, request

from portal import db
from portal.api import bp
from portal.api.counts import record_count
from portal.api.jsonapi import MEDIA_TYPE, ApiError, Query, dumps, parse_document, parse_query
from portal.api.querying import filtered
from portal.api.registry import Resource, writable
from portal.api.resources import REGISTRY
from portal.api.serializer import Serializer, visible_target
from portal.errors import Forbidden
from portal.security.bearer import current_token, require_token
from portal.security.tokens import TokenContext


def _resource(resource_type: str) -> Resource:
    resource = REGISTRY.get(resource_type)
    if resource is None:
        raise ApiError(404, "RECORD_NOT_FOUND", "Record not found", f"{resource_type} is not a resource.")
    return resource


def _authorize(resource: Resource, action: str) -> TokenContext:
    ctx = current_token()
    if ctx.organization_id is None or not resource.allowed(ctx, action):
        raise Forbidden("You are not authorized to perform this action on the requested resource.")
    return ctx


def _find(resource: Resource, ctx: TokenContext, public_id: str, *, lock: bool = False) -> Any:
    query = resource.query(ctx).where(resource.model.public_id == public_id)
    # FOR UPDATE OF the resource's own table: eager-loaded relations are outer joins PostgreSQL won't lock.
    obj = db.session.scalar(query.with_for_update(of=resource.model) if lock else query)
    if obj is None:
        raise ApiError(
            404,
            "RECORD_NOT_FOUND",
            "Record not found",
            f"The requested resource was not found: {resource.type}/{public_id}",
        )
    return obj


def _document(body: dict[str, Any], status: int = 200) -> Response:
    return Response(dumps(body), status=status, content_type=MEDIA_TYPE)


# --- listing --------------------------------------------------------------------------------------------------


def _sorted(resource: Resource, statement, query: Query):
    attrs = resource.attr_map
    order = []
    for name, descending in query.sort:
        attr = attrs.get(name)
        if attr is None or not attr.sortable:
            raise ApiError(
                400,
                "INVALID_SORT_CRITERIA",
                "Invalid sort criteria",
                f"{name} is not a valid sort criteria for {resource.type}",
                parameter="sort",
            )
        order.append(attr.column.desc() if descending else attr.column.asc())
    # Ties break on the id in the direction of the last key, so one (organization, key, id) index, read forwards or
    # backwards, serves the whole ORDER BY (a mixed direction sorts every tie: at a million customers with four
    # order counts, the whole table).
    descending = bool(query.sort) and query.sort[-1][1]
    return statement.order_by(*order, resource.model.id.desc() if descending else resource.model.id)


def _this_url() -> str:
    """The current path on the configured public base: links never echo the request's Host header."""
    return current_app.config["BASE_URL"].rstrip("/") + request.path


def _links(query: Query, page_count: int) -> dict[str, str]:
    base = _this_url()
    args = {k: v for k, v in request.args.items() if k != "page[number]"}
    size = {} if "page[size]" in args else {"page[size]": str(query.page_size)}

    def url(number: int) -> str:
        return f"{base}?{urlencode({**args, 'page[number]': str(number), **size})}"

    links = {"first": url(1), "last": url(max(page_count, 1))}
    if query.page_number > 1:
        links["prev"] = url(query.page_number - 1)
    if query.page_number < page_count:
        links["next"] = url(query.page_number + 1)
    return links


def _list(resource: Resource, ctx: TokenContext, statement, *, whole: bool = False) -> Response:
    """A page of `statement`'s rows; `whole`: the statement is the resource's own query (not a related list, whose
    extra condition the resource's counters know nothing of)."""
    query = parse_query()
    serializer = Serializer(ctx, query, resource)
    statement = filtered(resource, ctx, statement, query.filters)
    count = resource.count(ctx, query) if resource.count and whole else None
    if count is None:
        count = record_count(statement)
    page_count = ceil(count / query.page_size) if count else 0
    rows = db.session.scalars(
        _sorted(resource, statement, query)
        .limit(query.page_size)
        .offset((query.page_number - 1) * query.page_size)
    ).all()
    if resource.prepare and rows:
        resource.prepare(rows)
    data = [serializer.resource(resource, row, serializer.includes) for row in rows]
    return _document(
        serializer.document(
            data, meta={"record_count": count, "page_count": page_count}, links=_links(query, page_count)
        )
    )


# --- routes ------------------------------------------------------------------------------------------------------


@require_token()
def resource_list(resource_type: str) -> Response:
    resource = _resource(resource_type)
    ctx = _authorize(resource, "list")
    return _list(resource, ctx, resource.query(ctx), whole=True)


@require_token()
def resource_retrieve(resource_type: str, resource_id: str) -> Response:
    resource = _resource(resource_type)
    ctx = _authorize(resource, "retrieve")
    obj = _find(resource, ctx, resource_id)
    serializer = Serializer(ctx, parse_query(), resource)
    return _document(serializer.document(serializer.resource(resource, obj, serializer.includes)))


@require_token()
def resource_create(resource_type: str) -> Response:
    resource = _resource(resource_type)
    ctx = _authorize(resource, "create")
    document = parse_document(resource.type)
    obj = resource.create(ctx, writable(resource, document.attributes, "create"), document.relationships)
    serializer = Serializer(ctx, parse_query(), resource)
    return _document(serializer.document(serializer.resource(resource, obj, serializer.includes)), 201)


@require_token()
def resource_update(resource_type: str, resource_id: str) -> Response:
    resource = _resource(resource_type)
    ctx = _authorize(resource, "update")
    document = parse_document(resource.type, resource_id=resource_id)
    obj = _find(resource, ctx, resource_id, lock=True)
    obj = resource.update(ctx, obj, writable(resource, document.attributes, "update"), document.relationships)
    db.session.refresh(obj)
    serializer = Serializer(ctx, parse_query(), resource)
    return _document(serializer.document(serializer.resource(resource, obj, serializer.includes)))


@require_token()
def resource_delete(resource_type: str, resource_id: str) -> Response:
    resource = _resource(resource_type)
    ctx = _authorize(resource, "delete")
    resource.delete(ctx, _find(resource, ctx, resource_id, lock=True))
    return Response(status=204)


def _relationship_of(resource_type: str, resource_id: str, relationship: str) -> tuple:
    """The caller, the (visible) record, the named relationship and its target resource; 404 when unknown."""
    resource = _resource(resource_type)
    ctx = _authorize(resource, "retrieve")
    obj = _find(resource, ctx, resource_id)
    rel = resource.rel_map.get(relationship)
    if rel is None:
        raise ApiError(404, "RECORD_NOT_FOUND", "Record not found", f"{relationship} is not a relationship.")
    return ctx, obj, rel, REGISTRY[rel.type]


@require_token()
def resource_related(resource_type: str, resource_id: str, relationship: str) -> Response:
    ctx, obj, rel, target = _relationship_of(resource_type, resource_id, relationship)
    if rel.many:
        return _list(target, ctx, target.query(ctx).where(rel.target(obj)))
    related = visible_target(target, ctx, rel.target(obj))
    serializer = Serializer(ctx, parse_query(), target)
    return _document(
        serializer.document(serializer.resource(target, related, serializer.includes) if related else None)
    )


@require_token()
def resource_relationship(resource_type: str, resource_id: str, relationship: str) -> Response:
    ctx, obj, rel, target = _relationship_of(resource_type, resource_id, relationship)
    if rel.many:
        ids = db.session.scalars(
            target.query(ctx)
            .where(rel.target(obj))
            .with_only_columns(target.model.public_id)
            .order_by(target.model.id)
        ).all()
        data: Any = [{"type": target.type, "id": public_id} for public_id in ids]
    else:
        related = visible_target(target, ctx, rel.target(obj))
        data = {"type": target.type, "id": related.public_id} if related is not None else None
    return _document({"data": data, "links": {"self": _this_url()}})


def _register() -> None:
    """One URL rule per resource with only the methods it supports (so OPTIONS/Allow and 405 tell the truth)."""
    for resource in REGISTRY.values():
        base = f"/{resource.type}"
        defaults = {"resource_type": resource.type}
        collection = {"GET": resource_list} | ({"POST": resource_create} if resource.create else {})
        member = (
            {"GET": resource_retrieve}
            | ({"PATCH": resource_update} if resource.update else {})
            | ({"DELETE": resource_delete} if resource.delete else {})
        )
        for rule, views in ((base, collection), (f"{base}/<resource_id>", member)):
            for method, view in views.items():
                bp.add_url_rule(
                    rule, f"{resource.type}_{view.__name__}", view, methods=[method], defaults=defaults
                )
        bp.add_url_rule(
            f"{base}/<resource_id>/<relationship>",
            f"{resource.type}_related",
            resource_related,
            methods=["GET"],
            defaults=defaults,
        )
        bp.add_url_rule(
            f"{base}/<resource_id>/relationships/<relationship>",
            f"{resource.type}_relationship",
            resource_relationship,
            methods=["GET"],
            defaults=defaults,
        )


_register()
