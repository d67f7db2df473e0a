"""Attachments (Commerce Layer's `attachments`) on customers: staff notes and links to documents about a customer.

Plain text only (pages escape it, nothing renders HTML) and http(s) links only. A note about a person is personal
data: anonymization deletes a customer's attachments (`erase`; the decision is in `portal.jobs.privacy` and README).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import Attachment, Customer, User, column_length
from portal.models.orgs import Organization
from portal.services import validation
from portal.services.audit import Actor, apply_changes, record

FIELDS = frozenset({"name", "description", "url", "reference", "reference_origin", "metadata"})
# What may carry attachments: the JSON:API type, as stored in `attachable_type`.
ATTACHABLE = {"customers": Customer}
# The dashboard's timeline notes are attachments with this origin (commercelayer.md §6.1).
NOTE_ORIGIN = "app-orders--note"
DESCRIPTION_MAX = 10_000


def _clean(attributes: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    validation.unknown_fields(attributes, FIELDS)
    values: dict[str, Any] = {}
    for field, value in attributes.items():
        if field == "name":
            values[field] = validation.text(
                value, field, max_length=column_length(Attachment.name), required=True
            )
        elif field == "description":
            values[field] = validation.text(value, field, max_length=DESCRIPTION_MAX, multiline=True)
        elif field == "url":
            values[field] = validation.http_url(value, field, max_length=column_length(Attachment.url))
        elif field == "metadata":
            values["metadata_"] = validation.metadata(value)
        else:
            values[field] = validation.text(value, field)
    if creating and "name" not in values:
        raise Invalid("can't be blank", field="name", code="blank")
    return values


def attachable_of(org: Organization, attachment: Attachment) -> Customer | None:
    model = ATTACHABLE.get(attachment.attachable_type)
    if model is None:
        return None
    return db.session.scalar(
        select(model).where(model.organization_id == org.id, model.id == attachment.attachable_id)
    )


def create_attachment(
    actor: Actor, org: Organization, attachable: Customer, attributes: dict[str, Any]
) -> Attachment:
    """Attach a note or link to a customer of the org; audited on the customer (its timeline shows it)."""
    if not isinstance(attachable, Customer) or attachable.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="attachable")
    if attachable.anonymized:
        raise Invalid("An anonymized customer cannot be changed", field="attachable", code="anonymized")
    values = _clean(attributes, creating=True)
    attachment = Attachment(
        organization_id=org.id, attachable_type="customers", attachable_id=attachable.id, **values
    )
    db.session.add(attachment)
    db.session.flush()
    record(
        actor, org, "customer.attachment_create", attachable, ["attachments"], attachment=attachment.public_id
    )
    return attachment


def update_attachment(
    actor: Actor, org: Organization, attachment: Attachment, attributes: dict[str, Any]
) -> Attachment:
    values = _clean(attributes, creating=False)
    apply_changes(actor, org, "attachment.update", attachment, values)
    return attachment


def delete_attachment(actor: Actor, org: Organization, attachment: Attachment) -> None:
    attachable = attachable_of(org, attachment)
    if attachable is not None:
        record(
            actor,
            org,
            "customer.attachment_destroy",
            attachable,
            ["attachments"],
            attachment=attachment.public_id,
        )
    else:
        record(actor, org, "attachment.destroy", attachment)
    db.session.delete(attachment)
    db.session.flush()


def attachments_of(org: Organization, customer: Customer, *, limit: int = 100) -> list[Attachment]:
    """A customer's attachments, newest first (the admin page's notes)."""
    return list(
        db.session.scalars(
            select(Attachment)
            .where(
                Attachment.organization_id == org.id,
                Attachment.attachable_type == "customers",
                Attachment.attachable_id == customer.id,
            )
            .order_by(Attachment.id.desc())
            .limit(limit)
        )
    )


def get_customer_attachment(org: Organization, customer: Customer, public_id: str) -> Attachment:
    """One attachment of this customer; any other id (another customer's, another org's) is not found."""
    attachment = db.session.scalar(
        select(Attachment).where(
            Attachment.organization_id == org.id,
            Attachment.attachable_type == "customers",
            Attachment.attachable_id == customer.id,
            Attachment.public_id == public_id,
        )
    )
    if attachment is None:
        raise NotFound("The requested resource was not found", field="id")
    return attachment


def _author(user: User) -> str:
    full = " ".join(part for part in (user.first_name, user.last_name) if part)
    return full or user.email


def add_note(actor: Actor, org: Organization, customer: Customer, text: Any) -> Attachment:
    """A staff note, as the dashboard writes one: name = the author's name, description = the text."""
    if actor.user is None:
        raise Invalid("Only a staff member can write a note", field="description", code="invalid")
    if validation.text(text, "description", max_length=DESCRIPTION_MAX, multiline=True) is None:
        raise Invalid("can't be blank", field="description", code="blank")
    return create_attachment(
        actor,
        org,
        customer,
        {"name": _author(actor.user)[:255], "description": text, "reference_origin": NOTE_ORIGIN},
    )


def erase(customer_ids: list[int]) -> None:
    """Anonymization: notes and documents about the customers go (GDPR: a note about a person is personal data)."""
    table = Attachment.__table__
    db.session.execute(
        delete(table).where(table.c.attachable_type == "customers", table.c.attachable_id.in_(customer_ids))
    )
