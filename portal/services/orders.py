"""Orders as the customer domain sees them: recording them, placing them, and the customer status they drive."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import Customer, LineItem, Market, Order, column_length
from portal.models.orders import OrderStatus
from portal.models.orgs import Organization
from portal.services import addresses, customers, validation
from portal.services.audit import Actor, record
from portal.services.groups import is_market_open_to

AMOUNTS = (
    "subtotal_amount_cents",
    "shipping_amount_cents",
    "discount_amount_cents",
    "total_tax_amount_cents",
    "total_amount_cents",
)
MAX_QUANTITY = 10_000
FIELDS = frozenset(
    {
        "number",
        "customer_email",
        "currency_code",
        "language_code",
        "reference",
        "reference_origin",
        "metadata",
        *AMOUNTS,
    }
)


def get_order(org: Organization, public_id: str) -> Order:
    order = db.session.scalar(
        select(Order).where(Order.organization_id == org.id, Order.public_id == public_id)
    )
    if order is None:
        raise NotFound("The requested resource was not found", field="id")
    return order


def _next_number(org: Organization) -> str:
    count = (
        db.session.scalar(select(func.count()).select_from(Order).where(Order.organization_id == org.id)) or 0
    )
    number = count + 1
    while db.session.scalar(
        select(exists().where(Order.organization_id == org.id, Order.number == str(number)))
    ):
        number += 1
    return str(number)


def create_order(
    actor: Actor,
    org: Organization,
    market: Market,
    attributes: dict[str, Any],
    *,
    customer: Customer | None = None,
    billing_address: dict[str, Any] | None = None,
    shipping_address: dict[str, Any] | None = None,
) -> Order:
    """Record a draft order in a market. The customer comes from the relationship or `customer_email`
    (find-or-create, as Commerce Layer's shortcut does). The market must belong to the organization and be open
    to the customer."""
    validation.unknown_fields(attributes, FIELDS)
    if market.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="market")
    if customer is not None and customer.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="customer")
    email = attributes.get("customer_email")
    if customer is None and email is not None:
        email = validation.email(email)
        customer = customers.find_by_email(org, email) or customers.create_customer(
            actor, org, {"email": email}
        )
        if not customers.receives_by_email(customer):
            customer = None  # joins the account once its address is verified (link_waiting)
    if customer is not None and customer.anonymized:
        raise Invalid("An anonymized customer cannot place orders", field="customer", code="anonymized")
    if customer is not None and not is_market_open_to(market, customer):
        raise Invalid(
            "is private to a customer group this customer is not in", field="market", code="invalid"
        )
    number = validation.text(attributes.get("number"), "number", max_length=column_length(Order.number))
    number = number or _next_number(org)
    if db.session.scalar(select(exists().where(Order.organization_id == org.id, Order.number == number))):
        raise Invalid("has already been taken", field="number", code="taken")
    order = Order(
        organization_id=org.id,
        market=market,
        customer=customer,
        number=number,
        guest=customer is None or not customer.has_password,
        customer_email=customer.email if customer else email,
        currency_code=validation.currency_code(attributes.get("currency_code", "EUR")),
        language_code=validation.text(
            attributes.get("language_code"), "language_code", max_length=column_length(Order.language_code)
        )
        or "en",
        reference=validation.text(attributes.get("reference"), "reference"),
        reference_origin=validation.text(attributes.get("reference_origin"), "reference_origin"),
        metadata_=validation.metadata(attributes.get("metadata")),
        **{field: validation.cents(attributes.get(field, 0), field) for field in AMOUNTS},
    )
    if billing_address is not None:
        order.billing_address = addresses.build_address(org, billing_address, pointer="billing_address")
    if shipping_address is not None:
        order.shipping_address = addresses.build_address(org, shipping_address, pointer="shipping_address")
        order.country_code = order.shipping_address.country_code
    db.session.add(order)
    db.session.flush()
    record(actor, org, "order.create", order, sorted(attributes))
    return order


def link_waiting(actor: Actor, org: Organization, customer: Customer) -> None:
    """The address was just proven: orders placed by it while it was unverified join the account."""
    waiting = db.session.scalars(
        select(Order).where(
            Order.organization_id == org.id,
            Order.customer_id.is_(None),
            Order.customer_email == customer.email,
        )
    ).all()
    for order in waiting:
        order.customer = customer
        record(actor, org, "order.update", order, ["customer"])
    if waiting:
        customers.refresh_status(actor, org, customer)


def place_order(actor: Actor, org: Organization, order: Order) -> Order:
    """Place a draft/pending order: it now counts for the customer's `total_orders_count` and status."""
    if order.status not in (OrderStatus.DRAFT, OrderStatus.PENDING):
        raise Invalid(f"cannot be placed from status {order.status.value}", field="status", code="invalid")
    order.status = OrderStatus.PLACED
    order.placed_at = db.utcnow()
    if order.customer is not None:
        order.customer_email = order.customer.email
    db.session.flush()
    record(actor, org, "order.place", order, ["status", "placed_at"])
    if order.customer is not None:
        customers.refresh_status(actor, org, order.customer)
    return order


def add_line_item(org: Organization, order: Order, attributes: dict[str, Any]) -> LineItem:
    """Record what was bought, in the order's currency (copies: the catalogue may change later). Only drafts and
    pending orders take new items; a placed order's items are its accounting record."""
    if order.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="order")
    if order.status not in (OrderStatus.DRAFT, OrderStatus.PENDING):
        raise Invalid(f"cannot take items in status {order.status.value}", field="order", code="invalid")
    columns = LineItem.__table__.c
    quantity = validation.cents(attributes.get("quantity", 1), "quantity")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise Invalid(f"must be between 1 and {MAX_QUANTITY}", field="quantity", code="invalid")
    item = LineItem(
        organization_id=org.id,
        sku_code=validation.text(
            attributes.get("sku_code"), "sku_code", max_length=columns.sku_code.type.length
        ),
        name=validation.text(
            attributes.get("name"), "name", max_length=columns.name.type.length, required=True
        ),
        quantity=quantity,
        unit_amount_cents=validation.cents(attributes.get("unit_amount_cents", 0), "unit_amount_cents"),
        currency_code=order.currency_code,
    )
    order.line_items.append(item)
    db.session.flush()
    return item
