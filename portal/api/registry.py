"""The API's registry: how a resource is described (attributes, relationships, permissions, write adapters).

The definitions live in the `portal.api.resources` package, one module per family; the generic views in views.py
and the OpenAPI document read them from `REGISTRY`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, false, select

from portal import db
from portal.api.jsonapi import ApiError, param_not_allowed
from portal.errors import Invalid
from portal.models.staff import Role
from portal.security.tokens import TokenContext
from portal.services import validation
from portal.services.audit import Actor

READ = frozenset({"list", "retrieve"})
ALL = frozenset({"list", "retrieve", "create", "update", "delete"})


def timestamp(value: datetime | None) -> str | None:
    """ISO-8601 with milliseconds, as Commerce Layer: `2018-01-01T12:00:00.000Z`."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # the database's values are UTC already
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


# Attribute values that go into a document as they are (most of them: checked first, by exact type).
PLAIN = frozenset({str, int, bool, float, dict, list})


@dataclass
class Attr:
    name: str
    read: Callable[[Any, TokenContext], Any] | None = None  # default: getattr(model, name)
    column: Any = None  # SQL expression for filtering/sorting
    kind: str = "string"  # string | integer | datetime | boolean | object | enum | float | array
    filterable: bool = False
    sortable: bool = False
    creatable: bool = False
    updatable: bool = False
    write_only: bool = False
    # (dialect, matcher, value) → an index-friendly condition for some matchers, or None for the generic one
    matcher: Callable[[str, str, str], Any] | None = None

    def value(self, obj: Any, ctx: TokenContext) -> Any:
        value = self.read(obj, ctx) if self.read else getattr(obj, self.name)
        if value is None or type(value) in PLAIN:
            return value
        if isinstance(value, datetime):
            return timestamp(value)
        if hasattr(value, "value") and not isinstance(value, int | float | str | bool | dict | list):
            return value.value
        return value


@dataclass
class Rel:
    name: str
    type: str
    many: bool
    # to-one: model → related model or None; to-many: model → condition on the target model's query
    target: Callable[[Any], Any]
    writable: bool = False
    # about the request's own token, not the record (`jwt_customer`, `jwt_markets`): not a filter path, and not in a
    # webhook's body, which is built with no token
    of_token: bool = False


@dataclass
class Resource:
    type: str
    model: Any
    attrs: list[Attr]
    rels: list[Rel] = field(default_factory=list)
    # token type prefix → allowed actions; the first matching prefix wins
    permissions: dict[str, frozenset[str]] = field(default_factory=dict)
    create: Callable[..., Any] | None = None
    update: Callable[..., Any] | None = None
    delete: Callable[..., Any] | None = None
    # extra visibility rule for non-integration tokens (customer tokens see only their own records)
    own: Callable[[TokenContext], Any] | None = None
    # loader options that serialization needs (avoids one query per row)
    load: tuple[Any, ...] = ()
    # market-bound resources: the condition keeping rows of these market ids (a `market:...` scoped token's view)
    in_markets: Callable[[list[int]], Any] | None = None
    # `record_count` from counter rows when the (already validated) filters allow it; None: count the rows
    count: Callable[[TokenContext, Any], int | None] | None = None
    # called with a page of loaded rows before serialization: loads in one query what only some rows need
    prepare: Callable[[list[Any]], None] | None = None

    @functools.cached_property
    def attr_map(self) -> dict[str, Attr]:
        return {a.name: a for a in self.attrs}

    @functools.cached_property
    def rel_map(self) -> dict[str, Rel]:
        return {r.name: r for r in self.rels}

    def allowed(self, ctx: TokenContext, action: str) -> bool:
        for prefix, actions in self.permissions.items():
            if ctx.access_type.startswith(prefix):
                if prefix.startswith("integration") and ctx.role is Role.READ_ONLY:
                    actions = actions & READ
                return action in actions
        return False

    def query(self, ctx: TokenContext) -> Select:
        """Every query is scoped to the token's organization, for sales-channel tokens to what they may see, and for
        market-scoped tokens (`market:id:…`, `market:code:…`) to those markets' records."""
        statement = (
            select(self.model).where(self.model.organization_id == ctx.organization_id).options(*self.load)
        )
        if not ctx.staff:
            statement = statement.where(self.own(ctx) if self.own else false())
        if ctx.markets and self.in_markets is not None:
            statement = statement.where(self.in_markets([market.id for market in ctx.markets]))
        return statement


REGISTRY: dict[str, Resource] = {}
INCLUDE_DEPTH_MAX = (
    3  # relationship names in one include path (`customer_addresses.address.customer` is the deepest)
)


def check_include(root: Resource, path: list[str]) -> None:
    """Any chain of relationships the registry knows is includable (`orders.market.customer_group`); an unknown
    name or a path deeper than INCLUDE_DEPTH_MAX is Commerce Layer's 400 INVALID_INCLUDE."""
    resource: Resource | None = root
    for name in path:
        rel = resource.rel_map.get(name) if resource is not None else None
        resource = REGISTRY.get(rel.type) if rel is not None else None
    if resource is None or len(path) > INCLUDE_DEPTH_MAX:
        raise ApiError(
            400,
            "INVALID_INCLUDE",
            "Invalid include",
            f"{'.'.join(path)} is not a valid includable relationship of {root.type}.",
            parameter="include",
        )


def include_paths(root: Resource, depth: int = INCLUDE_DEPTH_MAX, *, of_token: bool = True) -> list[str]:
    """Every includable path from `root` up to `depth` relationships (the tenancy crawl includes them all);
    `of_token=False` leaves out the paths through a relationship about the request's token."""
    paths = []
    for rel in root.rels:
        if rel.of_token and not of_token:
            continue
        paths.append(rel.name)
        if depth > 1:
            tails = include_paths(REGISTRY[rel.type], depth - 1, of_token=of_token)
            paths += [f"{rel.name}.{tail}" for tail in tails]
    return paths


def register(*resources: Resource) -> None:
    """Add resource definitions to the registry the views and the OpenAPI document read (by JSON:API type)."""
    for resource in resources:
        REGISTRY[resource.type] = resource


def actor_of(ctx: TokenContext) -> Actor:
    """Who the audit trail names for a write made with this token."""
    if ctx.customer is not None:
        return Actor.of_customer(ctx.customer)
    return Actor.application(ctx.application_id, user=ctx.user)


def writable(resource: Resource, attributes: dict[str, Any], mode: str) -> dict[str, Any]:
    """Refuse attributes that are unknown, read-only, or not writable in this mode (create/update)."""
    flag = {"create": "creatable", "update": "updatable"}[mode]
    allowed = {a.name for a in resource.attrs if getattr(a, flag)}
    for name in attributes:
        if name not in allowed:
            raise param_not_allowed(f"{name} is not allowed.", pointer=f"/data/attributes/{name}")
    return attributes


def check_trigger(name: str, value: Any) -> None:
    """A trigger attribute (`_reset_circuit`, `_request_anonymization`, ...) is sent as true, or refused."""
    if value is not True and value not in ("true", "1", 1):
        raise Invalid("must be true", field=name, code="invalid")


def related(rel_type: str, ctx: TokenContext, public_id: str | None, name: str) -> Any:
    """The related record a write names by id, looked up within what the token may see; 422 when absent."""
    if public_id is None:
        return None
    if not isinstance(public_id, str) or validation.has_control_characters(public_id):
        raise Invalid("The related resource was not found", field=name, code="not_found")
    resource = REGISTRY[rel_type]
    obj = db.session.scalar(resource.query(ctx).where(resource.model.public_id == public_id))
    if obj is None:
        raise Invalid("The related resource was not found", field=name, code="not_found")
    return obj


def refuse_relationships(relationships: dict[str, Any], allowed: set[str]) -> None:
    """A 400 naming the first relationship this write does not accept."""
    for name in relationships:
        if name not in allowed:
            raise param_not_allowed(f"{name} is not allowed.", pointer=f"/data/relationships/{name}")


def plain_create(service: Callable) -> Callable:
    """A create adapter for resources without writable relationships."""

    def create(ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]) -> Any:
        refuse_relationships(relationships, set())
        return service(actor_of(ctx), ctx.organization, attributes)

    return create


def plain_update(service: Callable) -> Callable:
    """An update adapter for resources without writable relationships."""

    def update(ctx: TokenContext, obj: Any, attributes: dict[str, Any], relationships: dict[str, Any]) -> Any:
        refuse_relationships(relationships, set())
        return service(actor_of(ctx), ctx.organization, obj, attributes)

    return update


def plain_delete(service: Callable) -> Callable:
    """A delete adapter: the service receives the actor, the org and the record."""

    def delete(ctx: TokenContext, obj: Any) -> None:
        service(actor_of(ctx), ctx.organization, obj)

    return delete


_common = [
    Attr("id", read=lambda o, c: o.public_id, column=None, filterable=True, sortable=True),
    Attr("created_at", kind="datetime", filterable=True, sortable=True),
    Attr("updated_at", kind="datetime", filterable=True, sortable=True),
    Attr("reference", filterable=True, sortable=True, creatable=True, updatable=True),
    Attr("reference_origin", filterable=True, sortable=True, creatable=True, updatable=True),
    Attr(
        "metadata",
        read=lambda o, c: o.metadata_,
        kind="object",
        filterable=True,
        creatable=True,
        updatable=True,
    ),
]


def common_attrs(model: Any) -> list[Attr]:
    """id, timestamps, reference, reference_origin and metadata, bound to the model's columns."""
    columns = {
        "id": model.public_id,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
        "reference": model.reference,
        "reference_origin": model.reference_origin,
        "metadata": model.metadata_,
    }
    return [Attr(**{**a.__dict__, "column": columns[a.name]}) for a in _common]
