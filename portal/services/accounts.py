"""A shopper's own account: sign-up and email verification, sign-in, email change, sessions, data export.

Sign-up never writes a password onto a customer before the email is proven: the chosen password waits, hashed, in
a single-use `signup` action token, and the emailed link either creates the customer or claims the existing guest
record with that email. So a guest's record cannot be taken over by someone who merely knows the address, and a
stranger cannot pre-register someone else's email (login simply waits for the link).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from limits import parse
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import ActionToken, AuditEvent, Customer, DeletionRequest, LoginSession, Order
from portal.models.orders import OrderStatus
from portal.models.orgs import Market, Organization
from portal.security import passwords, sessions, throttle
from portal.services import (
    anonymization,
    attachments,
    audit,
    customers,
    groups,
    mail,
    orders,
    password_resets,
    subscriptions,
    validation,
)
from portal.services.audit import Actor, record

LINK_LIFETIME = timedelta(hours=24)
NOT_VERIFIED = "is invalid or has expired"
MAX_PASSWORD = 1024  # longer input is refused without hashing it whole (argon2 cost grows with length)


def _issue(org: Organization, purpose: str, principal_id: int, payload: dict[str, Any]) -> str:
    token = passwords.new_token()
    db.session.add(
        ActionToken(
            token_hash=passwords.token_digest(token),
            purpose=purpose,
            principal_type="customer",
            principal_id=principal_id,
            organization_id=org.id,
            payload=payload,
            expires_at=db.utcnow() + LINK_LIFETIME,
        )
    )
    db.session.flush()
    return token


def _redeem(org: Organization, purpose: str, token: str) -> ActionToken:
    row = db.session.scalar(
        select(ActionToken)
        .where(
            ActionToken.organization_id == org.id,
            ActionToken.purpose == purpose,
            ActionToken.token_hash == passwords.token_digest(token or ""),
        )
        .with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= db.utcnow():
        raise Invalid(NOT_VERIFIED, field="token", code="invalid")
    row.used_at = db.utcnow()
    return row


def sign_up(org: Organization, email: str, password: str) -> None:
    """Start a sign-up: email a verification link; nothing is written to the customer until it is followed.

    An address that already has an account gets a "you already have an account" email instead, so the page the
    visitor sees is the same either way."""
    email = validation.email(email)
    passwords.check_policy(password, context=(email, email.split("@")[0]))
    existing = customers.find_by_email(org, email)
    if existing is not None and (existing.has_password or not existing.is_active):
        if existing.is_active:
            mail.send(org, email, "account_exists", customer=existing)
        passwords.hash_password(password)  # same work as the other branch
        return
    token = _issue(org, "signup", 0, {"email": email, "password_hash": passwords.hash_password(password)})
    mail.send(org, email, "verify_email", customer=existing, token=token)


def verify_sign_up(org: Organization, token: str) -> Customer:
    """Follow the emailed sign-up link: create the customer, or claim the guest record with that email."""
    row = _redeem(org, "signup", token)
    email, password_hash = row.payload["email"], row.payload["password_hash"]
    row.payload = {"email": email}  # the hash is not kept once used
    customer = customers.find_by_email(org, email)
    customer = customers.lock(customer.id) if customer is not None else None
    if customer is not None and (customer.has_password or not customer.is_active):
        raise Invalid("This account is already active: sign in instead", field="token", code="taken")
    actor = Actor.of_customer(customer) if customer else Actor("customer")
    if customer is None:
        customer = customers.create_customer(actor, org, {"email": email})
        actor = Actor.of_customer(customer)
    row.principal_id = customer.id
    mail.adopt(org, customer, since=row.created_at)
    customer.password_hash = password_hash
    customer.email_verified_at = db.utcnow()
    db.session.flush()
    record(actor, org, "customer.sign_up", customer, ["email_verified_at", "password"])
    return customer


def authenticate(org: Organization, email: Any, password: Any, ip: str | None) -> Customer | None:
    """The customer behind these credentials, or None: the one check of the shop login and the OAuth password grant,
    behind one lockout keyed on the normalized address. An unknown email costs one argon2 verification too."""
    customer = customers.find_by_email(org, email) if isinstance(email, str) else None
    secret = password if isinstance(password, str) else ""

    def verify() -> bool:
        ok = passwords.verify_password(customer.password_hash if customer else None, secret[:MAX_PASSWORD])
        return ok and len(secret) <= MAX_PASSWORD and customer is not None and customer.is_active

    account = validation.email_key(email)
    return customer if throttle.check(throttle.customer_scope(org.id), account, ip, verify) else None


def _confirm_current_password(org: Organization, customer: Customer, password: Any, field: str) -> None:
    """The current password, asked before a change that could take the account over, counts against the same
    lockout as signing in: a stolen session or token must not get unlimited guesses at it."""

    def verify() -> bool:
        ok = isinstance(password, str) and len(password) <= MAX_PASSWORD
        return ok and passwords.verify_password(customer.password_hash, password)

    if not throttle.check(
        throttle.customer_scope(org.id), validation.email_key(customer.email), None, verify
    ):
        raise Invalid("is incorrect", field=field, code="invalid")


def market_refusal(org: Organization, code: str | None, customer: Customer) -> str | None:
    """Why this customer may not sign in to the storefront market `code` (None when they may)."""
    if not code:
        return None
    market = groups.find_market(org, code=code)
    if market is None or market.disabled_at is not None:
        return "This store is not available."
    if not groups.is_market_open_to(market, customer):
        return f"{market.name} is reserved for members of {market.customer_group.name}."
    return None


def request_email_change(org: Organization, customer: Customer, new_email: str, password: str) -> None:
    """Email a confirmation link to the new address and a notice to the current one. Nothing changes yet."""
    _confirm_current_password(org, customer, password, "current_password")
    new_email = validation.email(new_email)
    if new_email == customer.email:
        raise Invalid("is already your email address", field="email", code="invalid")
    token = _issue(org, "change_email", customer.id, {"email": new_email})
    mail.send(org, new_email, "change_email", customer=customer, token=token)
    mail.send(org, customer.email, "email_change_notice", customer=customer, new_email=new_email)
    record(Actor.of_customer(customer), org, "customer.email_change_request", customer, ["email"])


VERIFY_MAIL_LIMIT = parse("3/hour")


def resend_verification(org: Organization, customer: Customer) -> bool:
    """Email the signed-in customer a link that confirms its current address (an account made through the API or
    the demo starts unverified). The link is the email-change link for the address it already has, so following
    it proves the mailbox and changes nothing else. At most VERIFY_MAIL_LIMIT per customer, like every link we
    mail: returns False when over that budget (nothing sent). A verified address gets no mail and True, so the
    page answers alike."""
    if customer.email_verified_at is not None:
        return True
    if not throttle.hit(VERIFY_MAIL_LIMIT, f"verify-mail:{org.id}:{customer.public_id}"):
        return False
    token = _issue(org, "change_email", customer.id, {"email": customer.email})
    mail.send(org, customer.email, "verify_address", customer=customer, token=token)
    record(Actor.of_customer(customer), org, "customer.verification_request", customer)
    return True


def pending_email_change(org: Organization, customer: Customer) -> str | None:
    """The address the customer asked to move to and has not confirmed yet (the newest live link), if any."""
    row = db.session.scalar(
        select(ActionToken)
        .where(
            ActionToken.organization_id == org.id,
            ActionToken.purpose == "change_email",
            ActionToken.principal_type == "customer",
            ActionToken.principal_id == customer.id,
            ActionToken.used_at.is_(None),
            ActionToken.expires_at > db.utcnow(),
        )
        .order_by(ActionToken.id.desc())
        .limit(1)
    )
    email = row.payload.get("email") if row is not None else None
    return email if email and email != customer.email else None


def confirm_email_change(org: Organization, token: str) -> Customer:
    """Follow the confirmation link: the address is now proven, so it becomes the customer's email."""
    row = _redeem(org, "change_email", token)
    customer = customers.lock(row.principal_id)
    if customer is None or customer.organization_id != org.id:
        raise Invalid(NOT_VERIFIED, field="token", code="invalid")
    try:
        customers.update_customer(Actor.of_customer(customer), org, customer, {"email": row.payload["email"]})
    except Invalid as error:
        raise Invalid(f"That email address {error.message}", field="token", code=error.code) from None
    customer.email_verified_at = db.utcnow()
    orders.link_waiting(Actor.of_customer(customer), org, customer)
    return customer


def request_address_check(org: Organization, customer: Customer) -> None:
    """Email the customer's address a password-reset link: an account made through the API starts unverified, and
    orders placed by its address wait until that link is used. A reset proves the mailbox and sets the password in
    one step, so it is safe whoever follows it: the owner keeps the account, and someone who was signed up with a
    stranger's password takes it over instead of handing their data to that stranger."""
    reset, token = password_resets.request_reset(Actor.of_customer(customer), org, customer.email)
    if reset is not None:
        mail.send(org, customer.email, "confirm_address", customer=customer, token=token)


def update_own(org: Organization, customer: Customer, attributes: dict[str, Any]) -> Customer:
    """A customer's own token changes its customer (the API). Email and password need `_current_password` (a portal
    extension: Commerce Layer asks for nothing), so a stolen token cannot take the account over. A new email
    starts unverified: the old address gets a notice, the new one a link."""
    current = attributes.pop("_current_password", None)
    if ("email" in attributes or "password" in attributes) and customer.has_password:
        if not isinstance(current, str) or not current:
            raise Invalid("can't be blank", field="_current_password", code="blank")
        _confirm_current_password(org, customer, current, "_current_password")
    old = customer.email
    customers.update_customer(Actor.of_customer(customer), org, customer, attributes)
    if customer.email != old:
        customer.email_verified_at = None
        mail.send(org, old, "email_changed", customer=customer, new_email=customer.email)
        request_address_check(org, customer)
    if "password" in attributes:
        mail.send(org, customer.email, "password_changed", customer=customer)
    return customer


def change_password(org: Organization, customer: Customer, current: str, new: str) -> None:
    """Change the password knowing the current one; every session and token ends, a notice is emailed."""
    _confirm_current_password(org, customer, current, "current_password")
    customers.set_password(Actor.of_customer(customer), org, customer, new)
    mail.send(org, customer.email, "password_changed", customer=customer)


def sign_ins(customer: Customer, limit: int = 10) -> list[LoginSession]:
    return list(
        db.session.scalars(
            select(LoginSession)
            .where(LoginSession.principal_type == "customer", LoginSession.principal_id == customer.id)
            .order_by(LoginSession.id.desc())
            .limit(limit)
        )
    )


def active_sessions(customer: Customer) -> list[LoginSession]:
    idle, absolute = sessions.LIFETIMES["customer"]
    now = db.utcnow()
    rows = db.session.scalars(
        select(LoginSession)
        .where(
            LoginSession.principal_type == "customer",
            LoginSession.principal_id == customer.id,
            LoginSession.revoked_at.is_(None),
            LoginSession.last_seen_at > now - idle,
            LoginSession.created_at > now - absolute,
        )
        .order_by(LoginSession.id.desc())
    )
    return list(rows)


def end_session(customer: Customer, session_id: int) -> None:
    """Sign out one of the customer's sessions (by row id: the secret sid never leaves the server)."""
    row = db.session.get(LoginSession, session_id)
    if row is None or row.principal_type != "customer" or row.principal_id != customer.id:
        raise NotFound("The requested resource was not found", field="id")
    if row.revoked_at is None:
        row.revoked_at = db.utcnow()


ACCOUNT_RESOURCES = ("customers", "customer_addresses", "addresses")


def account_changes(org: Organization, customer: Customer, limit: int = 20) -> list[AuditEvent]:
    """What the shopper's security page lists: changes to the account and its address book (not orders)."""
    return audit.customer_events(org, customer, limit, ACCOUNT_RESOURCES)


def orders_of(customer: Customer) -> list[Order]:
    return list(
        db.session.scalars(
            select(Order).where(Order.customer_id == customer.id).order_by(Order.id.desc()).limit(200)
        )
    )


# The orders a shopper sees: placed ones, the same set `total_orders_count` counts (so the overview and the list
# agree). Drafts and pending checkouts are carts, not history; the data export still includes them.
PLACED = tuple(s for s in OrderStatus if s.counts_for_customer)


def order_history(customer: Customer) -> list[Order]:
    return list(
        db.session.scalars(
            select(Order)
            .options(selectinload(Order.line_items))
            .where(Order.customer_id == customer.id, Order.status.in_(PLACED))
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(200)
        )
    )


def get_order(org: Organization, customer: Customer, public_id: str) -> Order:
    order = db.session.scalar(
        select(Order).where(
            Order.organization_id == org.id,
            Order.customer_id == customer.id,
            Order.public_id == public_id,
            Order.status.in_(PLACED),
        )
    )
    if order is None:
        raise NotFound("The requested resource was not found", field="id")
    return order


def overview(org: Organization, customer: Customer) -> dict[str, Any]:
    markets: list[Market] = groups.markets_open_to(org, customer)
    return {"customer": customer, "group": customer.customer_group, "markets": markets}


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _address(address: Any) -> dict[str, Any] | None:
    if address is None:
        return None
    fields = ("first_name", "last_name", "company", "line_1", "line_2", "city", "zip_code", "state_code")
    return {
        **{f: getattr(address, f) for f in fields},
        "country_code": address.country_code,
        "phone": address.phone,
        "email": address.email,
        "notes": address.notes,
    }


def export_data(org: Organization, customer: Customer) -> dict[str, Any]:
    """Everything held about the customer (GDPR art. 15/20), as one JSON-ready document."""
    deletion = db.session.scalars(
        select(DeletionRequest).where(DeletionRequest.customer_id == customer.id).order_by(DeletionRequest.id)
    )
    return {
        "organization": {"name": org.name, "slug": org.slug},
        "profile": {
            "id": customer.public_id,
            "email": customer.email,
            "email_verified_at": _ts(customer.email_verified_at),
            "status": customer.status.value,
            "total_orders_count": customer.total_orders_count,
            "customer_group": customer.customer_group.name if customer.customer_group else None,
            "shopper_reference": customer.shopper_reference,
            "profile_id": customer.profile_id,
            "tax_exemption_code": customer.tax_exemption_code,
            "has_password": customer.has_password,
            "metadata": customer.metadata_,
            "created_at": _ts(customer.created_at),
            "updated_at": _ts(customer.updated_at),
        },
        "tags": [tag.name for tag in customer.tags],
        "subscriptions": [
            {"reference": s.reference, "source": s.source, "subscribed_at": _ts(s.created_at)}
            for s in subscriptions.subscriptions_of(customer)
        ],
        "notes": [
            {"name": a.name, "description": a.description, "url": a.url, "created_at": _ts(a.created_at)}
            for a in attachments.attachments_of(org, customer)
        ],
        "addresses": [
            {"id": e.public_id, **(_address(e.address) or {})} for e in customer.customer_addresses
        ],
        "orders": [
            {
                "id": o.public_id,
                "number": o.number,
                "status": o.status.value,
                "market": o.market.name,
                "currency_code": o.currency_code,
                "total_amount_cents": o.total_amount_cents,
                "placed_at": _ts(o.placed_at),
                "billing_address": _address(o.billing_address),
                "shipping_address": _address(o.shipping_address),
            }
            for o in orders_of(customer)
        ],
        "sessions": [
            {
                "created_at": _ts(s.created_at),
                "last_seen_at": _ts(s.last_seen_at),
                "revoked_at": _ts(s.revoked_at),
                "ip_address": s.ip_address,
                "user_agent": s.user_agent,
            }
            for s in sign_ins(customer, limit=1000)
        ],
        "deletion_requests": [
            {
                "id": d.public_id,
                "status": d.status.value,
                "created_at": _ts(d.created_at),
                "decided_at": _ts(d.decided_at),
                "rejection_reason": d.rejection_reason,
            }
            for d in deletion
        ],
        "anonymization": anonymization.info(customer),
    }
