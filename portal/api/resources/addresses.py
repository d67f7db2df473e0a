"""Addresses and customer addresses (the address book) in the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, false, or_, select
from sqlalchemy.orm import joinedload

from portal.api.registry import (
    ALL,
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
from portal.errors import Invalid
from portal.models import Address, AuditEvent, Customer, CustomerAddress
from portal.security.tokens import TokenContext
from portal.services import addresses, customers


def _address_attrs() -> list[Attr]:
    text = (*addresses.POSTAL_FIELDS, "email", "notes", "billing_info")
    attrs = [
        Attr(
            name,
            column=getattr(Address, name),
            filterable=True,
            sortable=name in ("city", "state_code", "country_code"),
            creatable=True,
            updatable=True,
        )
        for name in text
    ]
    attrs += [
        Attr(
            "business",
            column=Address.business,
            kind="boolean",
            filterable=True,
            creatable=True,
            updatable=True,
        ),
        Attr("lat", column=Address.lat, kind="float", filterable=True, creatable=True, updatable=True),
        Attr("lng", column=Address.lng, kind="float", filterable=True, creatable=True, updatable=True),
        Attr("full_name"),
        Attr("full_address"),
        Attr("name"),
        Attr("is_localized", read=lambda o, c: False, kind="boolean"),
        Attr("is_geocoded", read=lambda o, c: o.lat is not None and o.lng is not None, kind="boolean"),
    ]
    return attrs + common_attrs(Address)


def _created_by(actor_type: str, actor_id: str) -> Any:
    """Addresses whose `address.create` audit event names this actor (the audit trail is the only record of who
    created an address that is in no address book yet)."""
    return exists(
        select(AuditEvent.id).where(
            AuditEvent.resource_type == Address.__tablename__,
            AuditEvent.resource_id == Address.public_id,
            AuditEvent.action == "address.create",
            AuditEvent.actor_type == actor_type,
            AuditEvent.actor_id == actor_id,
        )
    )


def _own_addresses(ctx: TokenContext) -> Any:
    """A customer sees its address book and the addresses it created (to link one, it must read it first); a
    guest token sees, by id only, the addresses its sales channel created that are in no address book."""
    in_book = select(CustomerAddress.address_id)
    if ctx.customer is None:
        return and_(_created_by("application", ctx.application_id), Address.id.not_in(in_book))
    mine = in_book.where(CustomerAddress.customer_id == ctx.customer.id)
    created = and_(_created_by("customer", ctx.customer.public_id), Address.id.not_in(in_book))
    return or_(Address.id.in_(mine), created)


ADDRESSES = Resource(
    type="addresses",
    model=Address,
    attrs=_address_attrs(),
    permissions={
        "integration": ALL,
        "sales_channel:customer": ALL,
        "sales_channel:guest": frozenset({"create", "retrieve"}),
    },
    create=plain_create(addresses.create_address),
    update=plain_update(addresses.update_address),
    delete=plain_delete(addresses.delete_address),
    own=_own_addresses,
)


def _create_customer_address(ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]):
    refuse_relationships(relationships, {"customer", "address"})
    customer = related("customers", ctx, relationships.get("customer"), "customer")
    if customer is None and attributes.get("customer_email") is not None:
        customer = customers.find_by_email(ctx.organization, attributes["customer_email"])
        if customer is None or (ctx.customer is not None and customer is not ctx.customer):
            raise Invalid("does not match a customer", field="customer_email", code="invalid")
    customer = customer or ctx.customer
    if customer is None:
        raise Invalid("can't be blank", field="customer", code="blank")
    address = addresses.unlinked_address(ctx.organization, relationships.get("address"))
    return addresses.link_address(
        actor_of(ctx),
        ctx.organization,
        customer,
        address,
        {k: v for k, v in attributes.items() if k != "customer_email"},
    )


def _update_customer_address(
    ctx: TokenContext, entry: CustomerAddress, attributes: dict[str, Any], relationships: dict[str, Any]
) -> CustomerAddress:
    """The SDK's CustomerAddressUpdate: attributes, the `address` (another free address) and the `customer`, which
    may only name the entry's own customer (an entry does not move between address books)."""
    refuse_relationships(relationships, {"customer", "address"})
    if "customer" in relationships and relationships["customer"] != entry.customer.public_id:
        raise Invalid("cannot be changed", field="customer", code="invalid")
    address = None
    if relationships.get("address") is not None:
        address = related("addresses", ctx, relationships["address"], "address")
    return addresses.update_entry(actor_of(ctx), ctx.organization, entry, attributes, address=address)


CUSTOMER_ADDRESSES = Resource(
    type="customer_addresses",
    model=CustomerAddress,
    attrs=[
        Attr("name"),
        Attr("customer_email", creatable=True),
        Attr(
            "customer_id",
            column=select(Customer.public_id)
            .where(Customer.id == CustomerAddress.customer_id)
            .scalar_subquery(),
            filterable=True,
            write_only=True,
        ),
        *common_attrs(CustomerAddress),
    ],
    rels=[
        Rel("customer", "customers", False, lambda e: e.customer),
        Rel("address", "addresses", False, lambda e: e.address),
    ],
    permissions={"integration": ALL, "sales_channel:customer": ALL},
    create=_create_customer_address,
    update=_update_customer_address,
    delete=plain_delete(addresses.remove_from_address_book),
    own=lambda ctx: CustomerAddress.customer_id == ctx.customer.id if ctx.customer else false(),
    load=(joinedload(CustomerAddress.address), joinedload(CustomerAddress.customer)),
)
