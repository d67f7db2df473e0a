"""Customer password resets (Commerce Layer's `customer_password_resets`): a random single-use token, kept only as
a SHA-256 digest, valid for one hour. The shopper pages email the link; the API hands the token to the storefront."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import render_template
from sqlalchemy import select

from portal import db
from portal.errors import Invalid
from portal.models import Customer, PasswordReset
from portal.models.orgs import Organization
from portal.security import passwords
from portal.services import customers, mail, orders, validation
from portal.services.audit import Actor, apply_changes, emit, record

LIFETIME = timedelta(hours=1)


def request_reset(
    actor: Actor, org: Organization, email: str, attributes: dict[str, Any] | None = None
) -> tuple[PasswordReset | None, str | None]:
    """Open a reset for the customer with this email. Returns (None, None) for an unknown or anonymized email,
    so callers can answer both cases alike (no account enumeration). `attributes` may hold the reset's reference,
    reference_origin and metadata (the API's create)."""
    values = reference_values(attributes or {})
    customer = customers.find_by_email(org, email)
    if customer is None or not customer.is_active:
        return None, None
    token = passwords.new_token()
    reset = PasswordReset(
        organization_id=org.id,
        customer=customer,
        token_hash=passwords.token_digest(token),
        expires_at=db.utcnow() + LIFETIME,
        **values,
    )
    db.session.add(reset)
    db.session.flush()
    record(actor, org, "customer_password_reset.create", reset, [k.rstrip("_") for k in values])
    emit(org, "customer_password_resets.create", reset, customer=customer)
    return reset, token


REFERENCE_FIELDS = frozenset({"reference", "reference_origin", "metadata"})


def reference_values(attributes: dict[str, Any]) -> dict[str, Any]:
    """The common `reference`, `reference_origin` and `metadata` a reset may carry, checked (model attribute names)."""
    values: dict[str, Any] = {}
    for field in REFERENCE_FIELDS & set(attributes):
        if field == "metadata":
            values["metadata_"] = validation.metadata(attributes[field])
        else:
            values[field] = validation.text(attributes[field], field)
    return values


def set_references(actor: Actor, org: Organization, reset: PasswordReset, attributes: dict[str, Any]) -> None:
    """Change a reset's reference, reference_origin or metadata (audited when something changed)."""
    apply_changes(actor, org, "customer_password_reset.update", reset, reference_values(attributes))


def mail_reset_link(org: Organization, reset: PasswordReset, token: str) -> None:
    """Email the reset link (the shopper pages' way to deliver the token)."""
    mail.send(org, reset.customer.email, "password_reset", customer=reset.customer, token=token)


def complete_reset(
    actor: Actor, org: Organization, token: str, password: str, *, reset: PasswordReset | None = None
) -> Customer:
    """Use a reset token: set the new password, end every session and token, burn the token. With `reset` (the
    API's PATCH of one reset), the token must be that reset's."""
    found = db.session.scalar(
        select(PasswordReset)
        .where(
            PasswordReset.organization_id == org.id,
            PasswordReset.token_hash == passwords.token_digest(token or ""),
        )
        .with_for_update()
    )
    if reset is not None and found is not reset:
        found = None
    if found is None or found.reset_password_at is not None or found.expires_at <= db.utcnow():
        raise Invalid("is invalid or has expired", field="_reset_password_token", code="invalid")
    reset = found
    customer = customers.lock(reset.customer_id)
    customers.set_password(actor, org, customer, password)  # checks policy and ends all sessions
    reset.reset_password_at = db.utcnow()
    if customer.email_verified_at is None:
        customer.email_verified_at = reset.reset_password_at  # the link reached the inbox
        orders.link_waiting(actor, org, customer)
    db.session.flush()
    record(actor, org, "customer_password_reset.update", reset, ["reset_password_at"])
    return customer


def delete_reset(actor: Actor, org: Organization, reset: PasswordReset) -> None:
    """Withdraw a reset (its token stops working), with an audit record."""
    record(actor, org, "customer_password_reset.destroy", reset)
    db.session.delete(reset)
    db.session.flush()


def send_reset_link(actor: Actor, org: Organization, email: str) -> None:
    """The shopper pages' "forgot password": email a link when the account exists, and do the same work either
    way (a token digest and a rendered email) so neither the answer nor its timing reveals whether it does."""
    reset, token = request_reset(actor, org, email)
    if reset is not None and token is not None:
        mail_reset_link(org, reset, token)
    else:
        passwords.token_digest(passwords.new_token())
        for part in ("subject.txt", "txt", "html"):
            render_template(f"mail/password_reset.{part}", org=org, token=passwords.new_token())
