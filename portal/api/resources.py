"""The API's resources: attributes (read, filter, sort), relationships, permissions and the service each write calls.

A resource definition is data plus three small write adapters; the generic views in views.py do the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request
from limits import parse as parse_limit
from sqlalchemy import Select, false, select
from sqlalchemy.orm import joinedload, selectinload

from portal import db
from portal.api.jsonapi import ApiError
from portal.errors import Forbidden, Invalid
from portal.extensions import limiter
from portal.models import (
    Address,
    AnonymizationRequest,
    Customer,
    CustomerAddress,
    CustomerGroup,
    Market,
    Order,
    PasswordReset,
)
from portal.models.staff import ApplicationKind, Role
from portal.security.tokens import TokenContext
from portal.services import accounts, addresses, anonymization, customers, groups, orders
from portal.services.audit import Actor, record

READ = frozenset({"list", "retrieve"})
ALL = frozenset({"list", "retrieve", "create", "update", "delete"})


def timestamp(value: datetime | None) -> str | None:
    """ISO-8601 with milliseconds, as Commerce Layer: `2018-01-01T12:00:00.000Z`."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class Attr:
    name: str
    read: Callable[[Any, TokenContext], Any] | None = None  # default: getattr(model, name)
    column: Any = None  # SQL expression for filtering/sorting
    kind: str = "string"  # string | integer | datetime | boolean | object | enum | float
    filterable: bool = False
    sortable: bool = False
    creatable: bool = False
    updatable: bool = False
    write_only: bool = False

    def value(self, obj: Any, ctx: TokenContext) -> Any:
        value = self.read(obj, ctx) if self.read else getattr(obj, self.name)
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
    include_paths: frozenset[str] = frozenset()
    # loader options that serialization needs (avoids one query per row)
    load: tuple[Any, ...] = ()

    @property
    def attr_map(self) -> dict[str, Attr]:
        return {a.name: a for a in self.attrs}

    @property
    def rel_map(self) -> dict[str, Rel]:
        return {r.name: r for r in self.rels}

    def allowed(self, ctx: TokenContext, action: str) -> bool:
        for prefix, actions in self.permissions.items():
            if ctx.token_type.startswith(prefix):
                if prefix.startswith("integration") and ctx.role is Role.READ_ONLY:
                    actions = actions & READ
                return action in actions
        return False

    def query(self, ctx: TokenContext) -> Select:
        """Every query is scoped to the token's organization, and for customer tokens to what they own."""
        statement = (
            select(self.model).where(self.model.organization_id == ctx.organization.id).options(*self.load)
        )
        if ctx.kind is not ApplicationKind.INTEGRATION:
            statement = statement.where(self.own(ctx) if self.own else false())
        return statement


def actor_of(ctx: TokenContext) -> Actor:
    if ctx.customer is not None:
        return Actor.of_customer(ctx.customer)
    return Actor.application(ctx.application.public_id, user=ctx.user)


def _only(attributes: dict[str, Any], resource: Resource, mode: str) -> dict[str, Any]:
    """Refuse attributes that are unknown, read-only, or not writable in this mode (create/update)."""
    flag = {"create": "creatable", "update": "updatable"}[mode]
    allowed = {a.name for a in resource.attrs if getattr(a, flag)}
    for name in attributes:
        if name not in allowed:
            raise ApiError(
                400,
                "PARAM_NOT_ALLOWED",
                "Param not allowed",
                f"{name} is not allowed.",
                pointer=f"/data/attributes/{name}",
            )
    return attributes


def _related(rel_type: str, ctx: TokenContext, public_id: str | None, name: str) -> Any:
    if public_id is None:
        return None
    resource = REGISTRY[rel_type]
    obj = db.session.scalar(resource.query(ctx).where(resource.model.public_id == public_id))
    if obj is None:
        raise Invalid("The related resource was not found", field=name, code="not_found")
    return obj


def _refuse_relationships(relationships: dict[str, Any], allowed: set[str]) -> None:
    for name in relationships:
        if name not in allowed:
            raise ApiError(
                400,
                "PARAM_NOT_ALLOWED",
                "Param not allowed",
                f"{name} is not allowed.",
                pointer=f"/data/relationships/{name}",
            )


# --- customers -------------------------------------------------------------------------------------------------

TRIGGERS = ("_request_anonymization", "_cancel_anonymization")


def _count_sign_up(ctx: TokenContext) -> None:
    """A guest token's sign-up spends the client's and the IP's budget, taken or not: it bounds both mass sign-ups
    and probing which addresses are registered (the 422 `taken` answer, kept as Commerce Layer has it)."""
    if ctx.customer is not None or ctx.kind is not ApplicationKind.SALES_CHANNEL:
        return
    budgets = (
        ("SIGNUP_RATE_LIMIT", f"signup-ip:{request.remote_addr}"),
        ("SIGNUP_CLIENT_RATE_LIMIT", f"signup-client:{ctx.application.client_id}"),
    )
    for setting, key in budgets:
        if not limiter.limiter.hit(parse_limit(current_app.config[setting]), key):
            raise ApiError(429, "TOO_MANY_REQUESTS", "Too many requests", "Too many sign-ups: try again later.")


def _create_customer(
    ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]
) -> Customer:
    _refuse_relationships(
        relationships, {"customer_group"} if ctx.kind is ApplicationKind.INTEGRATION else set()
    )
    _count_sign_up(ctx)
    group = _related("customer_groups", ctx, relationships.get("customer_group"), "customer_group")
    customer = customers.create_customer(actor_of(ctx), ctx.organization, attributes, customer_group=group)
    if customer.has_password:
        accounts.request_address_check(ctx.organization, customer)
    return customer


def _update_customer(
    ctx: TokenContext, customer: Customer, attributes: dict[str, Any], relationships: dict[str, Any]
) -> Customer:
    triggers = {name: attributes.pop(name) for name in TRIGGERS if name in attributes}
    if triggers:
        _anonymization_trigger(ctx, customer, triggers)
    _refuse_relationships(
        relationships, {"customer_group"} if ctx.kind is ApplicationKind.INTEGRATION else set()
    )
    actor = actor_of(ctx)
    if ctx.customer is not None:
        accounts.update_own(ctx.organization, customer, attributes)
    elif attributes:
        attributes.pop("_current_password", None)
        customers.update_customer(actor, ctx.organization, customer, attributes)
    if "customer_group" in relationships:
        group = _related("customer_groups", ctx, relationships["customer_group"], "customer_group")
        groups.assign_to_group(actor, ctx.organization, customer, group)
    return customer


def _anonymization_trigger(ctx: TokenContext, customer: Customer, triggers: dict[str, Any]) -> None:
    """Only an integration token whose owner is an admin user of this org (JWT bearer flow) may pass these."""
    if ctx.kind is not ApplicationKind.INTEGRATION or ctx.owner_type != "user" or ctx.role is not Role.ADMIN:
        raise Forbidden(
            "Anonymization can only be requested with an integration token owned by a user "
            "of this organization (JWT bearer flow)"
        )
    for name, value in triggers.items():
        if value is not True and value not in ("true", "1", 1):
            raise Invalid("must be true", field=name, code="invalid")
    actor = actor_of(ctx)
    if "_cancel_anonymization" in triggers:
        anonymization.cancel_anonymization(actor, ctx.organization, customer)
    if "_request_anonymization" in triggers:
        anonymization.request_anonymization(actor, ctx.organization, customer)


def _plain_create(service: Callable) -> Callable:
    """A create adapter for resources without writable relationships."""

    def create(ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]) -> Any:
        _refuse_relationships(relationships, set())
        return service(actor_of(ctx), ctx.organization, attributes)

    return create


def _plain_update(service: Callable) -> Callable:
    def update(ctx: TokenContext, obj: Any, attributes: dict[str, Any], relationships: dict[str, Any]) -> Any:
        _refuse_relationships(relationships, set())
        return service(actor_of(ctx), ctx.organization, obj, attributes)

    return update


def _plain_delete(service: Callable) -> Callable:
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


CUSTOMERS = Resource(
    type="customers",
    model=Customer,
    attrs=[
        Attr("email", column=Customer.email, filterable=True, sortable=True, creatable=True, updatable=True),
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
        Attr("_request_anonymization", write_only=True, updatable=True),
        Attr("_cancel_anonymization", write_only=True, updatable=True),
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
    ],
    permissions={
        "integration": ALL,
        "sales_channel:customer": frozenset({"list", "retrieve", "update", "delete"}),
        "sales_channel:guest": frozenset({"create"}),
    },
    create=_create_customer,
    update=_update_customer,
    delete=_plain_delete(customers.delete_customer),
    own=lambda ctx: Customer.id == (ctx.customer.id if ctx.customer else -1),
    include_paths=frozenset({"customer_group", "customer_addresses", "customer_addresses.address", "orders"}),
    load=(
        selectinload(Customer.anonymization_requests).options(
            joinedload(AnonymizationRequest.requester),
            joinedload(AnonymizationRequest.cancellation_requester),
        ),
    ),
)

# --- customer groups and markets ----------------------------------------------------------------------------

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
    create=_plain_create(groups.create_group),
    update=_plain_update(groups.update_group),
    delete=_plain_delete(groups.delete_group),
    own=lambda ctx: CustomerGroup.id == (ctx.customer.customer_group_id or -1) if ctx.customer else false(),
    include_paths=frozenset({"markets"}),
)


def _update_market(
    ctx: TokenContext, market: Market, attributes: dict[str, Any], relationships: dict[str, Any]
):
    _refuse_relationships(relationships, {"customer_group"})
    if "customer_group" in relationships:
        group = _related("customer_groups", ctx, relationships["customer_group"], "customer_group")
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
    permissions={"integration": frozenset({"list", "retrieve", "update"})},
    update=_update_market,
    include_paths=frozenset({"customer_group"}),
)

# --- address book --------------------------------------------------------------------------------------------


def _address_attrs() -> list[Attr]:
    text = (
        "first_name",
        "last_name",
        "company",
        "line_1",
        "line_2",
        "city",
        "zip_code",
        "state_code",
        "country_code",
        "phone",
        "email",
        "notes",
        "billing_info",
    )
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


def _own_addresses(ctx: TokenContext) -> Any:
    return Address.id.in_(
        select(CustomerAddress.address_id).where(CustomerAddress.customer_id == ctx.customer.id)
    )


def _delete_address(ctx: TokenContext, address: Address) -> None:
    entry = db.session.scalar(select(CustomerAddress).where(CustomerAddress.address_id == address.id))
    if entry is not None:
        addresses.remove_from_address_book(actor_of(ctx), ctx.organization, entry)
    else:
        db.session.delete(address)
        db.session.flush()


ADDRESSES = Resource(
    type="addresses",
    model=Address,
    attrs=_address_attrs(),
    permissions={"integration": ALL, "sales_channel:customer": ALL},
    create=_plain_create(addresses.create_address),
    update=_plain_update(addresses.update_address),
    delete=_delete_address,
    own=lambda ctx: _own_addresses(ctx) if ctx.customer else false(),
)


def _create_customer_address(ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]):
    _refuse_relationships(relationships, {"customer", "address"})
    customer = _related("customers", ctx, relationships.get("customer"), "customer")
    if customer is None and attributes.get("customer_email") is not None:
        customer = customers.find_by_email(ctx.organization, attributes["customer_email"])
        if customer is None or (ctx.customer is not None and customer is not ctx.customer):
            raise Invalid("does not match a customer", field="customer_email", code="invalid")
    customer = customer or ctx.customer
    if customer is None:
        raise Invalid("can't be blank", field="customer", code="blank")
    address_id = relationships.get("address")
    if address_id is None:
        raise Invalid("can't be blank", field="address", code="blank")
    address = db.session.scalar(
        select(Address).where(Address.organization_id == ctx.organization.id, Address.public_id == address_id)
    )
    if address is None:
        raise Invalid(
            "The related resource was not found or is already in an address book",
            field="address",
            code="invalid",
        )
    return addresses.link_address(
        actor_of(ctx),
        ctx.organization,
        customer,
        address,
        {k: v for k, v in attributes.items() if k != "customer_email"},
    )


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
    update=_plain_update(addresses.update_entry),
    delete=_plain_delete(addresses.remove_from_address_book),
    own=lambda ctx: CustomerAddress.customer_id == ctx.customer.id if ctx.customer else false(),
    include_paths=frozenset({"address", "customer"}),
    load=(joinedload(CustomerAddress.address), joinedload(CustomerAddress.customer)),
)

# --- orders ------------------------------------------------------------------------------------------------------

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
    _refuse_relationships(relationships, {"customer", "market"})
    market = _related("markets", ctx, relationships.get("market"), "market")
    if market is None:
        raise Invalid("can't be blank", field="market", code="blank")
    customer = _related("customers", ctx, relationships.get("customer"), "customer")
    return orders.create_order(actor_of(ctx), ctx.organization, market, attributes, customer=customer)


def _update_order(ctx: TokenContext, order: Order, attributes: dict[str, Any], relationships: dict[str, Any]):
    _refuse_relationships(relationships, set())
    place = attributes.pop("_place", None)
    if attributes:
        raise ApiError(
            400,
            "PARAM_NOT_ALLOWED",
            "Param not allowed",
            f"{sorted(attributes)[0]} is not allowed.",
            pointer=f"/data/attributes/{sorted(attributes)[0]}",
        )
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
    include_paths=frozenset({"customer", "market"}),
)

# --- password resets -----------------------------------------------------------------------------------------


def _create_reset(
    ctx: TokenContext, attributes: dict[str, Any], relationships: dict[str, Any]
) -> PasswordReset:
    from portal.services import password_resets

    _refuse_relationships(relationships, set())
    email = attributes.get("customer_email")
    if not email:
        raise Invalid("can't be blank", field="customer_email", code="blank")
    reset, token = password_resets.request_reset(actor_of(ctx), ctx.organization, email)
    if reset is None:
        raise Invalid("does not match a customer", field="customer_email", code="invalid")
    reset.plain_token = token  # shown in this response only; stored hashed
    return reset


def _update_reset(
    ctx: TokenContext, reset: PasswordReset, attributes: dict[str, Any], relationships: dict[str, Any]
):
    from portal.services import password_resets

    _refuse_relationships(relationships, set())
    token, password = attributes.get("_reset_password_token"), attributes.get("customer_password")
    if not token:
        raise Invalid("can't be blank", field="_reset_password_token", code="blank")
    if not password:
        raise Invalid("can't be blank", field="customer_password", code="blank")
    password_resets.complete_reset(actor_of(ctx), ctx.organization, token, password, reset=reset)
    return reset


def _delete_reset(ctx: TokenContext, reset: PasswordReset) -> None:
    record(actor_of(ctx), ctx.organization, "customer_password_reset.destroy", reset)
    db.session.delete(reset)
    db.session.flush()


PASSWORD_RESETS = Resource(
    type="customer_password_resets",
    model=PasswordReset,
    attrs=[
        Attr("customer_email", read=lambda o, c: o.customer.email, creatable=True),
        Attr("reset_password_token", read=lambda o, c: getattr(o, "plain_token", None)),
        Attr("customer_password", write_only=True, updatable=True),
        Attr("_reset_password_token", write_only=True, updatable=True),
        Attr("reset_password_at", column=PasswordReset.reset_password_at, kind="datetime", filterable=True),
        *common_attrs(PasswordReset),
    ],
    rels=[Rel("customer", "customers", False, lambda r: r.customer)],
    permissions={"integration": frozenset({"list", "retrieve", "create", "update", "delete"})},
    create=_create_reset,
    update=_update_reset,
    delete=_delete_reset,
)

REGISTRY: dict[str, Resource] = {
    r.type: r
    for r in (CUSTOMERS, CUSTOMER_GROUPS, MARKETS, ADDRESSES, CUSTOMER_ADDRESSES, ORDERS, PASSWORD_RESETS)
}


def writable(resource: Resource, attributes: dict[str, Any], mode: str) -> dict[str, Any]:
    return _only(attributes, resource, mode)
