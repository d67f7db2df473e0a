"""Customer subscriptions (newsletter consent) and attachments (staff notes, documents) in the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false

from portal import db
from portal.api.registry import (
    ALL,
    Attr,
    Rel,
    Resource,
    actor_of,
    common_attrs,
    plain_update,
    refuse_relationships,
    related,
)
from portal.errors import Invalid
from portal.models import Attachment, Customer, CustomerSubscription
from portal.security.tokens import TokenContext
from portal.services import attachments, subscriptions


def _create_subscription(
    ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]
) -> CustomerSubscription:
    refuse_relationships(relationships, set())
    email = attributes.get("customer_email")
    if ctx.customer is not None and email is not None and str(email).strip().lower() != ctx.customer.email:
        # A customer token subscribes its own customer only.
        raise Invalid("must be your own email", field="customer_email", code="invalid")
    return subscriptions.create_subscription(actor_of(ctx), ctx.organization, attributes, source="api")


def _delete_subscription(ctx: TokenContext, subscription: CustomerSubscription) -> None:
    subscriptions.delete_subscription(actor_of(ctx), ctx.organization, subscription, source="api")


CUSTOMER_SUBSCRIPTIONS = Resource(
    type="customer_subscriptions",
    model=CustomerSubscription,
    attrs=[
        Attr("customer_email", read=lambda o, c: o.customer_email, creatable=True),
        *common_attrs(CustomerSubscription),
    ],
    rels=[Rel("customer", "customers", False, lambda s: s.customer)],
    permissions={"integration": ALL, "sales_channel:customer": ALL},
    create=_create_subscription,
    update=plain_update(subscriptions.update_subscription),
    delete=_delete_subscription,
    own=lambda ctx: CustomerSubscription.customer_id == ctx.customer.id if ctx.customer else false(),
)


def _attachable(ctx: TokenContext, relationships: dict[str, Any]) -> Customer:
    """The polymorphic `attachable`: only customers carry attachments here."""
    target = relationships.get("attachable")
    if target is None:
        raise Invalid("can't be blank", field="attachable", code="blank")
    if isinstance(target, list) or target.type not in attachments.ATTACHABLE:
        kind = "a list" if isinstance(target, list) else target.type
        raise Invalid(
            f"must be a customer ({kind} cannot carry attachments)", field="attachable", code="invalid"
        )
    return related(target.type, ctx, target, "attachable")


def _create_attachment(
    ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]
) -> Attachment:
    refuse_relationships(relationships, {"attachable"})
    customer = _attachable(ctx, relationships)
    return attachments.create_attachment(actor_of(ctx), ctx.organization, customer, attributes)


def _update_attachment(
    ctx: TokenContext, attachment: Attachment, attributes: dict[str, Any], relationships: dict[str, Any]
) -> Attachment:
    refuse_relationships(relationships, set())
    return attachments.update_attachment(actor_of(ctx), ctx.organization, attachment, attributes)


def _delete_attachment(ctx: TokenContext, attachment: Attachment) -> None:
    attachments.delete_attachment(actor_of(ctx), ctx.organization, attachment)


ATTACHMENTS = Resource(
    type="attachments",
    model=Attachment,
    attrs=[
        Attr("name", column=Attachment.name, filterable=True, sortable=True, creatable=True, updatable=True),
        Attr("description", creatable=True, updatable=True),
        Attr("url", creatable=True, updatable=True),
        *common_attrs(Attachment),
    ],
    rels=[
        Rel(
            "attachable",
            "customers",
            False,
            lambda a: db.session.get(Customer, a.attachable_id) if a.attachable_type == "customers" else None,
            writable=True,
        )
    ],
    permissions={"integration": ALL},
    create=_create_attachment,
    update=_update_attachment,
    delete=_delete_attachment,
)
