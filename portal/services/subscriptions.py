"""Customer subscriptions (Commerce Layer's `customer_subscriptions`): a customer's consent to a newsletter.

A subscription row is the consent itself: `created_at` says when, `source` where (the shop's privacy page, the API,
the admin area), and the customer's audit trail says who. Unsubscribing deletes the row (the audit event stays, as
proof that consent was withdrawn); anonymization deletes them all (`erase`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, select

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import Customer, CustomerSubscription, column_length
from portal.models.orgs import Organization
from portal.services import customers, validation
from portal.services.audit import Actor, apply_changes, emit, record

NEWSLETTER = "newsletter"  # the reference of the subscription the shopper's privacy page toggles
SOURCES = frozenset({"shop", "api", "admin"})
UPDATABLE = frozenset({"reference", "reference_origin", "metadata"})


def _clean(attributes: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    validation.unknown_fields(attributes, allowed)
    values: dict[str, Any] = {}
    for field, value in attributes.items():
        if field == "metadata":
            values["metadata_"] = validation.metadata(value)
        elif field == "reference":
            values[field] = validation.text(
                value, field, max_length=column_length(CustomerSubscription.reference), required=True
            )
        elif field == "reference_origin":
            values[field] = validation.text(value, field)
    return values


def _check_reference(customer: Customer, subscription: CustomerSubscription | None, reference: str) -> None:
    clash = select(CustomerSubscription.id).where(
        CustomerSubscription.customer_id == customer.id, CustomerSubscription.reference == reference
    )
    if subscription is not None:
        clash = clash.where(CustomerSubscription.id != subscription.id)
    if db.session.scalar(select(exists(clash))):
        raise Invalid("has already been taken", field="reference", code="taken")


def create_subscription(
    actor: Actor, org: Organization, attributes: dict[str, Any], *, source: str
) -> CustomerSubscription:
    """Subscribe the customer named by `customer_email` (required, an existing customer of the org) to `reference`
    (required, e.g. "newsletter"). Audited on the customer and announced (`customer_subscriptions.create`)."""
    assert source in SOURCES
    attributes = dict(attributes)
    email = attributes.pop("customer_email", None)
    values = _clean(attributes, UPDATABLE)
    if email is None or (isinstance(email, str) and not email.strip()):
        raise Invalid("can't be blank", field="customer_email", code="blank")
    validation.email(email, "customer_email")
    customer = customers.find_by_email(org, email)
    if customer is None:
        raise Invalid("does not match a customer", field="customer_email", code="invalid")
    if "reference" not in values:
        raise Invalid("can't be blank", field="reference", code="blank")
    return subscribe(actor, org, customer, values, source=source)


def subscribe(
    actor: Actor, org: Organization, customer: Customer, values: dict[str, Any], *, source: str
) -> CustomerSubscription:
    if customer.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="customer")
    if customer.anonymized:
        raise Invalid("An anonymized customer cannot be changed", field="customer_email", code="anonymized")
    _check_reference(customer, None, values["reference"])
    subscription = CustomerSubscription(
        organization_id=org.id, customer_id=customer.id, customer=customer, source=source, **values
    )
    db.session.add(subscription)
    db.session.flush()
    record(
        actor,
        org,
        "customer.subscribe",
        customer,
        ["customer_subscriptions"],
        subscription=subscription.public_id,
        source=source,
    )
    emit(org, "customer_subscriptions.create", subscription, customer=customer)
    return subscription


def update_subscription(
    actor: Actor, org: Organization, subscription: CustomerSubscription, attributes: dict[str, Any]
) -> CustomerSubscription:
    values = _clean(attributes, UPDATABLE)
    if "reference" in values:
        _check_reference(subscription.customer, subscription, values["reference"])
    apply_changes(actor, org, "customer_subscription.update", subscription, values)
    return subscription


def delete_subscription(
    actor: Actor, org: Organization, subscription: CustomerSubscription, *, source: str = "api"
) -> None:
    """Withdraw the consent: the row goes, the customer's audit trail records when and from where."""
    customer = subscription.customer
    record(
        actor,
        org,
        "customer.unsubscribe",
        customer,
        ["customer_subscriptions"],
        subscription=subscription.public_id,
        source=source,
    )
    emit(org, "customer_subscriptions.destroy", subscription, customer=customer)
    db.session.delete(subscription)
    db.session.flush()


def subscriptions_of(customer: Customer) -> list[CustomerSubscription]:
    return list(
        db.session.scalars(
            select(CustomerSubscription)
            .where(CustomerSubscription.customer_id == customer.id)
            .order_by(CustomerSubscription.id)
        )
    )


def newsletter(customer: Customer) -> CustomerSubscription | None:
    """The customer's newsletter subscription, if they gave that consent."""
    return db.session.scalar(
        select(CustomerSubscription).where(
            CustomerSubscription.customer_id == customer.id, CustomerSubscription.reference == NEWSLETTER
        )
    )


def set_newsletter(
    actor: Actor, org: Organization, customer: Customer, subscribed: bool, *, source: str
) -> bool:
    """Give or withdraw newsletter consent; True when something changed (a repeated click changes nothing)."""
    current = newsletter(customer)
    if subscribed and current is None:
        subscribe(actor, org, customer, {"reference": NEWSLETTER}, source=source)
        return True
    if not subscribed and current is not None:
        delete_subscription(actor, org, current, source=source)
        return True
    return False


def erase(customer_ids: list[int]) -> None:
    """Anonymization: the customers' consent records go with them."""
    table = CustomerSubscription.__table__
    db.session.execute(delete(table).where(table.c.customer_id.in_(customer_ids)))
