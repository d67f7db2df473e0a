"""Orders in the API: create in a market, place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false

from portal.api.jsonapi import param_not_allowed
from portal.api.registry import (
    READ,
    Attr,
    Rel,
    Resource,
    actor_of,
    common_attrs,
    refuse_relationships,
    related,
)
from portal.errors import Invalid
from portal.models import Order
from portal.security.tokens import TokenContext
from portal.services import orders

AMOUNTS = ("subtotal_amount", "shipping_amount", "discount_amount", "total_tax_amount", "total_amount")


def _money(name: str) -> list[Attr]:
    column = getattr(Order, f"{name}_cents")
    return [
        Attr(f"{name}_cents", column=column, kind="integer", filterable=True, sortable=True, creatable=True),
        Attr(f"{name}_float", read=lambda o, c, n=name: getattr(o, f"{n}_cents") / 100, kind="float"),
        Attr(
            f"formatted_{name}",
            read=lambda o, c, n=name: f"{getattr(o, f'{n}_cents') / 100:,.2f} {o.currency_code}",
        ),
    ]


def _create_order(ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]) -> Order:
    refuse_relationships(relationships, {"customer", "market"})
    market = related("markets", ctx, relationships.get("market"), "market")
    if market is None:
        raise Invalid("can't be blank", field="market", code="blank")
    customer = related("customers", ctx, relationships.get("customer"), "customer")
    return orders.create_order(actor_of(ctx), ctx.organization, market, attributes, customer=customer)


def _update_order(ctx: TokenContext, order: Order, attributes: dict[str, Any], relationships: dict[str, Any]):
    refuse_relationships(relationships, set())
    place = attributes.pop("_place", None)
    if attributes:
        name = sorted(attributes)[0]
        raise param_not_allowed(f"{name} is not allowed.", pointer=f"/data/attributes/{name}")
    if place is not None:
        if place is not True:
            raise Invalid("must be true", field="_place", code="invalid")
        orders.place_order(actor_of(ctx), ctx.organization, order)
    return order


ORDERS = Resource(
    type="orders",
    model=Order,
    attrs=[
        Attr("number", column=Order.number, filterable=True, sortable=True, creatable=True),
        Attr("status", column=Order.status, kind="enum", filterable=True, sortable=True),
        Attr("guest", column=Order.guest, kind="boolean", filterable=True, sortable=True),
        Attr("customer_email", column=Order.customer_email, filterable=True, creatable=True),
        Attr("language_code", column=Order.language_code, filterable=True, sortable=True, creatable=True),
        Attr("currency_code", column=Order.currency_code, filterable=True, sortable=True, creatable=True),
        Attr("country_code", column=Order.country_code, filterable=True, sortable=True),
        *[attr for name in AMOUNTS for attr in _money(name)],
        Attr("placed_at", column=Order.placed_at, kind="datetime", filterable=True, sortable=True),
        Attr("cancelled_at", column=Order.cancelled_at, kind="datetime", filterable=True, sortable=True),
        Attr("_place", write_only=True, updatable=True),
        *common_attrs(Order),
    ],
    rels=[
        Rel("customer", "customers", False, lambda o: o.customer),
        Rel("market", "markets", False, lambda o: o.market),
    ],
    permissions={
        "integration": frozenset({"list", "retrieve", "create", "update"}),
        "sales_channel:customer": READ,
    },
    create=_create_order,
    update=_update_order,
    own=lambda ctx: Order.customer_id == ctx.customer.id if ctx.customer else false(),
    in_markets=lambda ids: Order.market_id.in_(ids),
)
