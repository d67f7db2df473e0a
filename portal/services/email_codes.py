"""One-time email codes: a shopper signs in with six digits sent to their address instead of a password.

This is how a customer created without a password (a guest who ordered) gets into the account and claims it: the
code proves the mailbox, so a successful sign-in marks the email verified and links the orders that waited for
that proof. A code lives 10 minutes, is stored hashed (with a per-code salt) in `action_tokens` (purpose
`sign_in_code`), is single use, allows 5 wrong tries, and asking for a new one kills the old one. Wrong codes also
count in the account's sign-in lockout, the password's budget. Asking never reveals whether the address has an
account: the answer, and the work done, are the same, and mail goes out (through the outbox) only when it has.
A mailbox gets at most 5 codes an hour.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any

from flask import render_template
from limits import parse
from sqlalchemy import delete, select

from portal import db
from portal.models import ActionToken, Customer, Organization
from portal.security import passwords, throttle
from portal.services import customers, mail, orders, validation
from portal.services.audit import Actor, record

PURPOSE = "sign_in_code"
LIFETIME = timedelta(minutes=10)
TRIES = parse("5/15 minutes")  # wrong tries of one code (it lives 10 minutes)
CODES_PER_HOUR = parse("5/hour")  # codes emailed to one address


def _digest(salt: str, code: str) -> str:
    return passwords.token_digest(f"{salt}:{code}")


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def request_code(org: Organization, email: Any) -> None:
    """Email a sign-in code when an active account uses this address; otherwise do the same work and send
    nothing. The previous code of the account stops working."""
    customer = customers.find_by_email(org, email) if isinstance(email, str) else None
    code, salt = new_code(), passwords.new_token()
    digest = _digest(salt, code)
    budget = f"sign-in-code-mail:{org.id}:{validation.email_key(email)}"
    if customer is None or not customer.is_active or not throttle.hit(CODES_PER_HOUR, budget):
        for part in ("subject.txt", "txt", "html"):
            render_template(f"mail/sign_in_code.{part}", org=org, code=code)
        return
    table = ActionToken.__table__
    db.session.execute(
        delete(table).where(
            table.c.purpose == PURPOSE,
            table.c.principal_type == "customer",
            table.c.principal_id == customer.id,
        )
    )
    db.session.add(
        ActionToken(
            token_hash=digest,
            purpose=PURPOSE,
            principal_type="customer",
            principal_id=customer.id,
            organization_id=org.id,
            payload={"salt": salt},
            expires_at=db.utcnow() + LIFETIME,
        )
    )
    db.session.flush()
    mail.send(org, customer.email, "sign_in_code", customer=customer, code=code)


def _live_code(org: Organization, customer: Customer | None) -> ActionToken | None:
    if customer is None:
        return None
    return db.session.scalar(
        select(ActionToken)
        .where(
            ActionToken.organization_id == org.id,
            ActionToken.purpose == PURPOSE,
            ActionToken.principal_type == "customer",
            ActionToken.principal_id == customer.id,
            ActionToken.used_at.is_(None),
            ActionToken.expires_at > db.utcnow(),
        )
        .with_for_update()
    )


def sign_in(org: Organization, email: Any, code: Any, ip: str | None) -> Customer | None:
    """The customer this code was sent to, or None (wrong, used, expired or out of tries: one answer for all).
    The first success proves the mailbox: the email is verified, and a password set before it was (by someone
    who merely knew the address) stops working."""
    customer = customers.find_by_email(org, email) if isinstance(email, str) else None
    typed = "".join(code.split()) if isinstance(code, str) else ""

    def verify() -> bool:
        row = _live_code(org, customer)
        if row is None:
            return False
        tries = f"sign-in-code:{row.payload['salt']}"  # per code (row ids can be reused)
        if not throttle.within(TRIES, tries):
            return False
        if not (typed.isdigit() and hmac.compare_digest(row.token_hash, _digest(row.payload["salt"], typed))):
            throttle.hit(TRIES, tries)
            return False
        row.used_at = db.utcnow()
        return customer is not None and customer.is_active

    account = validation.email_key(email)
    if not throttle.check(throttle.customer_scope(org.id), account, ip, verify):
        return None
    return _prove_mailbox(org, customers.lock(customer.id))


def _prove_mailbox(org: Organization, customer: Customer) -> Customer:
    if customer.email_verified_at is not None:
        return customer
    actor = Actor.of_customer(customer)
    changed = ["email_verified_at"]
    customer.email_verified_at = db.utcnow()
    if customer.password_hash is not None:
        customer.password_hash = None
        customers.end_all_sessions(customer)
        changed.append("password")
    db.session.flush()
    record(actor, org, "customer.email_verify", customer, changed)
    orders.link_waiting(actor, org, customer)
    return customer
