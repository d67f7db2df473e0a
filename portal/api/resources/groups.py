"""Customer groups and markets in the API (a market's group is its only writable field)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, select

from portal.api.registry import (
    ALL,
    READ,
    Attr,
    Rel,
    Resource,
    actor_of,
    common_attrs,
    plain_create,
    plain_delete,
    plain_update,
    refuse_relationships,
    related,
)
from portal.models import Customer, CustomerGroup, Market, Order
from portal.security.tokens import TokenContext
from portal.services import groups

CUSTOMER_GROUPS = Resource(
    type="customer_groups",
    model=CustomerGroup,
    attrs=[
        Attr(
            "name", column=CustomerGroup.name, filterable=True, sortable=True, creatable=True, updatable=True
        ),
        Attr(
            "code", column=CustomerGroup.code, filterable=True, sortable=True, creatable=True, updatable=True
        ),
        *common_attrs(CustomerGroup),
    ],
    rels=[
        Rel("customers", "customers", True, lambda g: Customer.customer_group_id == g.id),
        Rel("markets", "markets", True, lambda g: Market.customer_group_id == g.id),
    ],
    permissions={"integration": ALL, "sales_channel:customer": READ},
    create=plain_create(groups.create_group),
    update=plain_update(groups.update_group),
    delete=plain_delete(groups.delete_group),
    own=lambda ctx: CustomerGroup.id == (ctx.customer.customer_group_id or -1) if ctx.customer else false(),
)


def _markets_open_to(ctx: TokenContext) -> Any:
    """What a sales channel sees: the public markets; a customer also its group's private ones and the markets of
    its own orders (so `orders?include=market` is never silently empty)."""
    public = and_(Market.customer_group_id.is_(None), Market.disabled_at.is_(None))
    if ctx.customer is None:
        return public
    mine = and_(Market.customer_group_id == ctx.customer.customer_group_id, Market.disabled_at.is_(None))
    ordered = Market.id.in_(select(Order.market_id).where(Order.customer_id == ctx.customer.id))
    return or_(public, mine, ordered)


def _update_market(
    ctx: TokenContext, market: Market, attributes: dict[str, Any], relationships: dict[str, Any]
):
    refuse_relationships(relationships, {"customer_group"})
    if "customer_group" in relationships:
        group = related("customer_groups", ctx, relationships["customer_group"], "customer_group")
        groups.set_market_group(actor_of(ctx), ctx.organization, market, group)
    return market


MARKETS = Resource(
    type="markets",
    model=Market,
    attrs=[
        Attr("number", kind="integer"),
        Attr("name", column=Market.name, filterable=True, sortable=True),
        Attr("code", column=Market.code, filterable=True, sortable=True),
        Attr("private", kind="boolean"),
        Attr("disabled_at", column=Market.disabled_at, kind="datetime", filterable=True, sortable=True),
        *common_attrs(Market),
    ],
    rels=[Rel("customer_group", "customer_groups", False, lambda m: m.customer_group, writable=True)],
    permissions={"integration": frozenset({"list", "retrieve", "update"}), "sales_channel": READ},
    update=_update_market,
    own=_markets_open_to,
    in_markets=lambda ids: Market.id.in_(ids),
)
