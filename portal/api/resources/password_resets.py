"""Customer password resets in the API: request (an integration sees the token once; a storefront's request emails
it), complete, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, true

from portal.api.registry import (
    Attr,
    Rel,
    Resource,
    actor_of,
    common_attrs,
    plain_delete,
    refuse_relationships,
)
from portal.api.resources.customers import count_guest_request
from portal.errors import Invalid
from portal.models import Customer, PasswordReset
from portal.security.tokens import TokenContext
from portal.services import password_resets


def _create_reset(
    ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]
) -> PasswordReset:
    refuse_relationships(relationships, set())
    email = attributes.get("customer_email")
    if not email:
        raise Invalid("can't be blank", field="customer_email", code="blank")
    if not ctx.staff:
        count_guest_request(ctx, "password resets")
    reset, token = password_resets.request_reset(actor_of(ctx), ctx.organization, email, attributes)
    if reset is None:
        raise Invalid("does not match a customer", field="customer_email", code="invalid")
    if ctx.staff:
        reset.plain_token = token  # shown in this response only; stored hashed
    else:
        password_resets.mail_reset_link(ctx.organization, reset, token)  # a storefront never sees the token
    return reset


def _update_reset(
    ctx: TokenContext, reset: PasswordReset, attributes: dict[str, Any], relationships: dict[str, Any]
):
    refuse_relationships(relationships, set())
    password_resets.set_references(actor_of(ctx), ctx.organization, reset, attributes)
    token, password = attributes.get("_reset_password_token"), attributes.get("customer_password")
    if attributes and set(attributes) <= password_resets.REFERENCE_FIELDS:
        return reset  # only the reference fields change
    if not token:
        raise Invalid("can't be blank", field="_reset_password_token", code="blank")
    if not password:
        raise Invalid("can't be blank", field="customer_password", code="blank")
    password_resets.complete_reset(actor_of(ctx), ctx.organization, token, password, reset=reset)
    return reset


PASSWORD_RESETS = Resource(
    type="customer_password_resets",
    model=PasswordReset,
    attrs=[
        Attr("customer_email", read=lambda o, c: o.customer.email, creatable=True),
        Attr("reset_password_token", read=lambda o, c: getattr(o, "plain_token", None)),
        Attr("customer_password", write_only=True, updatable=True),
        Attr("_reset_password_token", write_only=True, updatable=True),
        Attr("reset_password_at", column=PasswordReset.reset_password_at, kind="datetime", filterable=True),
        Attr(
            "customer_id",
            filterable=True,
            write_only=True,
            column=select(Customer.public_id)
            .where(Customer.id == PasswordReset.customer_id)
            .scalar_subquery(),
        ),
        *common_attrs(PasswordReset),
    ],
    rels=[Rel("customer", "customers", False, lambda r: r.customer)],
    permissions={
        "integration": frozenset({"list", "retrieve", "create", "update", "delete"}),
        "sales_channel": frozenset({"create", "update"}),
    },
    # A storefront completes a reset by id with its emailed token (Commerce Layer's Identity app); it can neither
    # list nor read resets, and the update checks the token before anything is shown.
    own=lambda ctx: true(),
    create=_create_reset,
    update=_update_reset,
    delete=plain_delete(password_resets.delete_reset),
)
