"""Customers in the API: create, update (group, anonymization triggers), delete."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from limits import parse as parse_limit
from sqlalchemy import select

from portal.api.jsonapi import ApiError, Query
from portal.api.registry import (
    ALL,
    Attr,
    Rel,
    Resource,
    actor_of,
    check_trigger,
    common_attrs,
    plain_delete,
    refuse_relationships,
    related,
)
from portal.api.resources.event_stores import CUSTOMER_RELS
from portal.api.resources.tags import customer_tag_attrs, refuse_tag_triggers, write_customer_tags
from portal.extensions import limiter
from portal.models import (
    Attachment,
    Customer,
    CustomerAddress,
    CustomerGroup,
    CustomerSubscription,
    Order,
    Tag,
    customer_tags,
)
from portal.models.staff import ApplicationKind
from portal.security.tokens import TokenContext
from portal.services import accounts, anonymization, customer_counts, customers, groups, search

TRIGGERS = ("_request_anonymization", "_cancel_anonymization")
TAG_TRIGGERS = ("_add_tags", "_remove_tags")
INTEGRATION_RELATIONSHIPS = {"customer_group", "tags"}


def _create_customer(
    ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]
) -> Customer:
    refuse_relationships(relationships, INTEGRATION_RELATIONSHIPS if ctx.staff else set())
    count_guest_request(ctx, "sign-ups")
    group = related("customer_groups", ctx, relationships.get("customer_group"), "customer_group")
    customer = customers.create_customer(actor_of(ctx), ctx.organization, attributes, customer_group=group)
    if "tags" in relationships:
        write_customer_tags(ctx, customer, {}, relationships)
    if customer.has_password:
        accounts.request_address_check(ctx.organization, customer)
    return customer


def count_guest_request(ctx: TokenContext, what: str) -> None:
    """A guest token's sign-up or password-reset request spends the client's and the IP's budget, whatever the
    answer: it bounds mass sign-ups and reset emails, and probing which addresses are registered (the 422 `taken`
    and `does not match a customer` answers, kept as Commerce Layer has them)."""
    if ctx.customer is not None or ctx.kind is not ApplicationKind.SALES_CHANNEL:
        return
    budgets = (
        ("SIGNUP_RATE_LIMIT", f"signup-ip:{request.remote_addr}"),
        ("SIGNUP_CLIENT_RATE_LIMIT", f"signup-client:{ctx.client_id}"),
    )
    for setting, key in budgets:
        if not limiter.limiter.hit(parse_limit(current_app.config[setting]), key):
            raise ApiError(
                429, "TOO_MANY_REQUESTS", "Too many requests", f"Too many {what}: try again later."
            )


def _update_customer(
    ctx: TokenContext, customer: Customer, attributes: dict[str, Any], relationships: dict[str, Any]
) -> Customer:
    triggers = {name: attributes.pop(name) for name in TRIGGERS if name in attributes}
    tag_triggers = {name: attributes.pop(name) for name in TAG_TRIGGERS if name in attributes}
    refuse_tag_triggers(ctx, tag_triggers)
    if triggers:
        _anonymization_trigger(ctx, customer, triggers)
    refuse_relationships(relationships, INTEGRATION_RELATIONSHIPS if ctx.staff else set())
    actor = actor_of(ctx)
    if ctx.customer is not None:
        accounts.update_own(ctx.organization, customer, attributes)
    elif attributes:
        attributes.pop("_current_password", None)
        customers.update_customer(actor, ctx.organization, customer, attributes)
    if "customer_group" in relationships:
        group = related("customer_groups", ctx, relationships["customer_group"], "customer_group")
        groups.assign_to_group(actor, ctx.organization, customer, group)
    if tag_triggers or "tags" in relationships:
        write_customer_tags(ctx, customer, tag_triggers, relationships)
    return customer


def _anonymization_trigger(ctx: TokenContext, customer: Customer, triggers: dict[str, Any]) -> None:
    """Only a token owned by an admin user of this org (the rule is the service's) may pass these."""
    anonymization.require_token_admin(ctx.kind, ctx.user, ctx.organization, ctx.role)
    for name, value in triggers.items():
        check_trigger(name, value)
    actor = actor_of(ctx)
    if "_cancel_anonymization" in triggers:
        anonymization.cancel_anonymization(actor, ctx.organization, customer)
    if "_request_anonymization" in triggers:
        anonymization.request_anonymization(actor, ctx.organization, customer)


def _count_customers(ctx: TokenContext, query: Query) -> int | None:
    """`record_count` from the counter rows when the list is the whole organization's, or filtered by status only
    (eq / in); other filters (and customer tokens, which see one customer) count the matching rows."""
    if ctx.kind is not ApplicationKind.INTEGRATION or ctx.markets:
        return None
    statuses: set[str] | None = None
    for item in query.filters:
        if item.names != ["status"] or item.matcher not in ("eq", "in") or item.quantifier is not None:
            return None
        values = set(item.values) if item.matcher == "in" else {item.value}
        statuses = values if statuses is None else statuses & values
    return customer_counts.total(ctx.organization_id, statuses)


CUSTOMERS = Resource(
    type="customers",
    model=Customer,
    attrs=[
        Attr(
            "email",
            column=Customer.email,
            filterable=True,
            sortable=True,
            creatable=True,
            updatable=True,
            matcher=search.email_condition,
        ),
        Attr("password", write_only=True, creatable=True, updatable=True),
        Attr("status", column=Customer.status, kind="enum", filterable=True, sortable=True),
        Attr("has_password", kind="boolean"),
        Attr(
            "total_orders_count",
            column=Customer.total_orders_count,
            kind="integer",
            filterable=True,
            sortable=True,
        ),
        Attr("shopper_reference", creatable=True, updatable=True),
        Attr("profile_id", creatable=True, updatable=True),
        Attr("tax_exemption_code", creatable=True, updatable=True),
        Attr(
            "jwt_custom_claim", read=lambda o, c: c.custom_claim if c.customer is o else None, kind="object"
        ),
        Attr(
            "anonymization_status",
            column=Customer.anonymization_status,
            kind="enum",
            filterable=True,
            sortable=True,
        ),
        Attr("anonymization_info", read=lambda o, c: anonymization.info(o), kind="object"),
        Attr("_current_password", write_only=True, updatable=True),
        Attr("_request_anonymization", kind="boolean", write_only=True, updatable=True),
        Attr("_cancel_anonymization", kind="boolean", write_only=True, updatable=True),
        *customer_tag_attrs(),
        Attr(
            "customer_group_id",
            filterable=True,
            write_only=True,
            column=select(CustomerGroup.public_id)
            .where(CustomerGroup.id == Customer.customer_group_id)
            .scalar_subquery(),
        ),
        *common_attrs(Customer),
    ],
    rels=[
        Rel("customer_group", "customer_groups", False, lambda c: c.customer_group, writable=True),
        Rel("customer_addresses", "customer_addresses", True, lambda c: CustomerAddress.customer_id == c.id),
        Rel("orders", "orders", True, lambda c: Order.customer_id == c.id),
        Rel(
            "customer_subscriptions",
            "customer_subscriptions",
            True,
            lambda c: CustomerSubscription.customer_id == c.id,
        ),
        Rel(
            "attachments",
            "attachments",
            True,
            lambda c: (Attachment.attachable_type == "customers") & (Attachment.attachable_id == c.id),
        ),
        Rel(
            "tags",
            "tags",
            True,
            lambda c: Tag.id.in_(select(customer_tags.c.tag_id).where(customer_tags.c.customer_id == c.id)),
            writable=True,
        ),
        *CUSTOMER_RELS,
    ],
    permissions={
        "integration": ALL,
        "sales_channel:customer": frozenset({"list", "retrieve", "update", "delete"}),
        "sales_channel:guest": frozenset({"create"}),
    },
    create=_create_customer,
    update=_update_customer,
    delete=plain_delete(customers.delete_customer),
    own=lambda ctx: Customer.id == (ctx.customer.id if ctx.customer else -1),
    count=_count_customers,
    prepare=anonymization.load_info,
)
