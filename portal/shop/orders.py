"""The shopper's orders, read-only. Another customer's order is simply not found."""

from __future__ import annotations

from flask import g
from werkzeug.wrappers import Response

from portal.security.routes import Policy, allow
from portal.services import accounts
from portal.shop import bp, customer
from portal.web import render


@bp.get("/orders")
@allow(Policy.SHOPPER)
def orders_list() -> Response:
    return render("shop/orders/list.html", orders=accounts.order_history(customer()))


@bp.get("/orders/<order_id>")
@allow(Policy.SHOPPER)
def orders_detail(order_id: str) -> Response:
    return render("shop/orders/detail.html", order=accounts.get_order(g.org, customer(), order_id))
