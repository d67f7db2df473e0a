"""Emails are written to the outbox in the caller's transaction and delivered by the worker after commit."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import get_locale
from sqlalchemy import select

from portal import db
from portal.i18n import in_locale
from portal.models import Customer, OutboxMessage
from portal.models.orgs import Organization


def send(
    org: Organization | None, to: str, template: str, *, customer: Customer | None = None, **context: Any
) -> OutboxMessage:
    """Queue an email rendered from `templates/mail/<template>.{subject.txt,txt,html}`, in the customer's language
    (their stored choice, else the language of the page that caused it: an admin's action writes in English to a
    customer who never chose). Rendered now, so the worker delivers exactly what was decided in this transaction."""
    context = {"org": org, **context}
    with in_locale((customer.locale if customer else None) or get_locale() or "en"):
        message = _message(org, to, template, customer, context)
    db.session.add(message)
    return message


def _message(
    org: Organization | None, to: str, template: str, customer: Customer | None, context: dict[str, Any]
) -> OutboxMessage:
    return OutboxMessage(
        organization_id=org.id if org else None,
        customer_id=customer.id if customer else None,
        kind="email",
        topic=template,
        recipients=[to],
        payload={
            "subject": render_template(f"mail/{template}.subject.txt", **context).strip(),
            "text": render_template(f"mail/{template}.txt", **context),
            "html": render_template(f"mail/{template}.html", **context),
        },
    )


def adopt(org: Organization, customer: Customer, *, since: Any) -> None:
    """Give this customer the emails sent to its address, without a customer id, since `since` (a sign-up's mail is
    queued before the customer exists), so its anonymization or deletion finds them by id."""
    rows = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.organization_id == org.id,
            OutboxMessage.customer_id.is_(None),
            OutboxMessage.kind == "email",
            OutboxMessage.created_at >= since,
        )
    )
    for message in rows:
        if customer.email in message.recipients:
            message.customer_id = customer.id
