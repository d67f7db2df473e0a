"""Customers: create, update, delete, password and status, with Commerce Layer's rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.db import new_public_id
from portal.errors import Invalid, Locked, NotFound
from portal.models import (
    Customer,
    CustomerGroup,
    DeletionRequest,
    LoginSession,
    OAuthToken,
    Order,
    column_length,
)
from portal.models.customers import CustomerStatus
from portal.models.orders import OrderStatus
from portal.models.orgs import Organization
from portal.security import passwords
from portal.services import attachments, audit, traces, validation
from portal.services.audit import Actor, emit, record

# Attributes a caller may set, and how each is checked. `password` is handled apart (hashed, write-only).
UPDATABLE = frozenset(
    {
        "email",
        "password",
        "shopper_reference",
        "profile_id",
        "tax_exemption_code",
        "reference",
        "reference_origin",
        "metadata",
    }
)


def _length(field: str) -> int:
    return column_length(getattr(Customer, field))


def _clean(field: str, value: Any) -> Any:
    match field:
        case "email":
            return validation.email(value)
        case "shopper_reference":
            return validation.text(value, field, min_length=3, max_length=_length(field), required=True)
        case "profile_id":
            return validation.text(value, field, min_length=1, max_length=_length(field), required=True)
        case "tax_exemption_code" | "reference" | "reference_origin":
            return validation.text(value, field, max_length=_length(field))
        case "metadata":
            return validation.metadata(value)
    raise Invalid("is not an allowed attribute", field=field, code="unpermitted")


def _cleaned(checks: validation.Checks, attributes: dict[str, Any]) -> dict[str, Any]:
    """The known attributes' clean values (`password` aside); each failure goes to `checks`."""
    values = {}
    for field, value in attributes.items():
        if field in UPDATABLE and field != "password":
            cleaned = checks(_clean, field, value)
            if not checks.failed(field):
                values[field] = cleaned
    return values


def get_customer(org: Organization, public_id: str, *, lock: bool = False) -> Customer:
    """The customer with this id in this org; any other org's id is simply not found.

    `lock` takes a row lock (PostgreSQL) so a write cannot interleave with the anonymization worker.
    """
    query = select(Customer).where(Customer.organization_id == org.id, Customer.public_id == public_id)
    customer = db.session.scalar(query.with_for_update() if lock else query)
    if customer is None:
        raise NotFound("The requested resource was not found", field="id")
    return customer


def lock(customer_id: int) -> Customer | None:
    """Take the customer's row lock (PostgreSQL; SQLite's writers are serialized anyway) and re-read it: every door
    that changes a customer does, so a change cannot interleave with another or with the anonymization worker."""
    return db.session.scalar(
        select(Customer)
        .where(Customer.id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lock_many(org: Organization, public_ids: list[str]) -> list[Customer]:
    """The bulk doors' targets: the org's customers with these public ids that can still change (not anonymized),
    locked in id order (no deadlock between two bulk changes, none interleaving with the anonymizer: `lock`). Ids of
    other orgs and ids that can't be public ids (a NUL byte, which PostgreSQL refuses in text) are ignored."""
    public_ids = [i for i in public_ids if not validation.has_control_characters(i)]
    return list(
        db.session.scalars(
            select(Customer)
            .where(
                Customer.organization_id == org.id,
                Customer.public_id.in_(public_ids),
                Customer.anonymization_status.is_distinct_from("completed"),
            )
            .order_by(Customer.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def find_by_email(org: Organization, email: str) -> Customer | None:
    try:
        normalized = validation.email(email)
    except Invalid:
        return None
    return db.session.scalar(
        select(Customer).where(Customer.organization_id == org.id, Customer.email == normalized)
    )


def receives_by_email(customer: Customer) -> bool:
    """Whether data that arrives by this customer's address alone (an order's `customer_email`) may join it: a guest
    record (nobody can sign in to it) or an account whose address was proven by an emailed link. An account someone
    created with a password for an address never verified (API sign-up) waits for its link (SECURITY.md)."""
    return customer.email_verified_at is not None or not customer.has_password


def _taken(org: Organization, column: Any, value: str, customer: Customer | None) -> bool:
    query = select(exists().where(Customer.organization_id == org.id, column == value))
    if customer is not None and customer.id is not None:
        query = select(
            exists().where(Customer.organization_id == org.id, column == value, Customer.id != customer.id)
        )
    return bool(db.session.scalar(query))


def _check_unique(org: Organization, customer: Customer | None, values: dict[str, Any]) -> None:
    for field in ("email", "shopper_reference", "profile_id"):
        if field in values and _taken(org, getattr(Customer, field), values[field], customer):
            raise Invalid("has already been taken", field=field, code="taken")


def _flush_unique(customer: Customer) -> None:
    """Flush inside a savepoint, so a concurrent duplicate becomes a clean 'taken' error, not a broken session."""
    try:
        with db.session.begin_nested():
            db.session.add(customer)
    except IntegrityError as exc:
        message = str(exc.orig).lower()
        field = next((f for f in ("shopper_reference", "profile_id") if f in message), "email")
        raise Invalid("has already been taken", field=field, code="taken") from None


def _unique_random(org: Organization, column: Any) -> str:
    while True:
        value = new_public_id(20)
        if not _taken(org, column, value, None):
            return value


def check_group(org: Organization, group: CustomerGroup | None) -> CustomerGroup | None:
    if group is not None and group.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="customer_group")
    return group


def create_customer(
    actor: Actor,
    org: Organization,
    attributes: dict[str, Any],
    *,
    customer_group: CustomerGroup | None = None,
) -> Customer:
    """Sign a customer up or register a guest. Email required; `shopper_reference`/`profile_id` generated if missing."""
    checks = validation.Checks()
    checks(validation.unknown_fields, attributes, UPDATABLE)
    values = _cleaned(checks, attributes)
    if "email" not in attributes:
        checks.add(Invalid("can't be blank", field="email", code="blank"))
    password = attributes.get("password")
    if password is not None:
        email = values.get("email") or ""
        checks(passwords.check_policy, password, context=(email, email.split("@")[0]))
    checks.done()
    _check_unique(org, None, values)
    customer = Customer(
        organization_id=org.id,
        email=values["email"],
        shopper_reference=values.get("shopper_reference") or _unique_random(org, Customer.shopper_reference),
        profile_id=values.get("profile_id") or _unique_random(org, Customer.profile_id),
        tax_exemption_code=values.get("tax_exemption_code"),
        reference=values.get("reference"),
        reference_origin=values.get("reference_origin"),
        metadata_=values.get("metadata") or {},
        customer_group_id=check_group(org, customer_group).id if customer_group else None,
        password_hash=passwords.hash_password(password) if password is not None else None,
    )
    _flush_unique(customer)
    record(actor, org, "customer.create", customer, sorted(values) + (["password"] if password else []))
    emit(org, "customers.create", customer, customer=customer)
    return customer


def update_customer(
    actor: Actor, org: Organization, customer: Customer, attributes: dict[str, Any]
) -> Customer:
    """Change a customer's attributes. An anonymized customer is read-only."""
    _refuse_if_anonymized(customer)
    checks = validation.Checks()
    checks(validation.unknown_fields, attributes, UPDATABLE)
    values = _cleaned(checks, attributes)
    if "password" in attributes:
        checks(_check_password, customer, attributes["password"])
    checks.done()
    _check_unique(org, customer, values)
    changed = []
    for field, value in values.items():
        attr = "metadata_" if field == "metadata" else field
        if getattr(customer, attr) != value:
            setattr(customer, attr, value)
            changed.append(field)
    if "password" in attributes:
        _apply_password(customer, attributes["password"])
        changed.append("password")
    if changed:
        _flush_unique(customer)
        record(actor, org, "customer.update", customer, changed)
        emit(org, "customers.update", customer, customer=customer)
        if "metadata" in changed:
            emit(org, "customers.metadata_update", customer, customer=customer)
    return customer


def _check_password(customer: Customer, password: Any) -> None:
    if not isinstance(password, str):
        raise Invalid("must be a string", field="password", code="invalid")
    passwords.check_policy(password, context=(customer.email, customer.email.split("@")[0]))


def _apply_password(customer: Customer, password: Any) -> None:
    _check_password(customer, password)
    had_password = customer.has_password
    customer.password_hash = passwords.hash_password(password)
    end_all_sessions(customer)
    if not had_password:
        emit(customer.organization, "customers.create_password", customer, customer=customer)


def set_password(actor: Actor, org: Organization, customer: Customer, password: str) -> None:
    """Set a new password; every existing session and token of the customer ends."""
    _refuse_if_anonymized(customer)
    _apply_password(customer, password)
    record(actor, org, "customer.password_change", customer, ["password"])


def end_all_sessions(customer: Customer) -> None:
    """Rotate the login id and revoke every browser session and API token of the customer."""
    now = db.utcnow()
    customer.login_id = new_public_id(24)
    for model, owner_type, owner_id in (
        (LoginSession, LoginSession.principal_type, LoginSession.principal_id),
        (OAuthToken, OAuthToken.owner_type, OAuthToken.owner_id),
    ):
        db.session.execute(
            model.__table__.update()
            .where(owner_type == "customer", owner_id == customer.id, model.revoked_at.is_(None))
            .values(revoked_at=now)
        )


def delete_customer(actor: Actor, org: Organization, customer: Customer) -> None:
    """Delete a customer without orders, and what it left behind (`traces`: its sessions' network details, its
    links and emails). One with orders can only be anonymized (Commerce Layer: 423 Locked)."""
    has_orders = db.session.scalar(select(exists().where(Order.customer_id == customer.id)))
    if has_orders:
        raise Locked("A customer with orders cannot be deleted, only anonymized", field="id", code="locked")
    end_all_sessions(customer)
    traces.erase([customer.id], {(org.id, customer.email)})
    attachments.erase([customer.id])  # polymorphic rows: no foreign key cascades them
    record(actor, org, "customer.destroy", customer)
    emit(org, "customers.destroy", customer)
    db.session.delete(customer)
    db.session.flush()
    traces.purge_search_index()
    db.forget_on_commit()


def refresh_status(actor: Actor, org: Organization, customer: Customer) -> CustomerStatus:
    """Recount placed orders and move the status forward (prospect → acquired → repeat), never backward."""
    placed = [s for s in OrderStatus if s.counts_for_customer]
    count = (
        db.session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.customer_id == customer.id, Order.status.in_(placed))
        )
        or 0
    )
    customer.total_orders_count = count
    new_status = CustomerStatus.for_order_count(count)
    order = list(CustomerStatus)
    if order.index(new_status) > order.index(customer.status):
        previous = customer.status
        customer.status = new_status
        record(
            actor,
            org,
            "customer.status_change",
            customer,
            ["status"],
            **{"from": previous.value, "to": new_status.value},
        )
        emit(org, f"customers.{new_status.value}", customer, customer=customer)
    db.session.flush()
    return customer.status


def _refuse_if_anonymized(customer: Customer) -> None:
    if customer.anonymized:
        raise Invalid("An anonymized customer cannot be changed", field="id", code="anonymized")


def customer_page(org: Organization, customer: Customer) -> dict[str, Any]:
    """What the admin customer page shows besides the customer: last orders, audit timeline, deletion request,
    staff notes."""
    orders = db.session.scalars(
        select(Order).where(Order.customer_id == customer.id).order_by(Order.id.desc()).limit(10)
    ).all()
    timeline = audit.customer_events(org, customer, 50)
    deletion = db.session.scalar(
        select(DeletionRequest)
        .where(DeletionRequest.customer_id == customer.id)
        .order_by(DeletionRequest.id.desc())
        .limit(1)
    )
    notes = attachments.attachments_of(org, customer)
    return {"orders": orders, "timeline": timeline, "deletion_request": deletion, "notes": notes}
