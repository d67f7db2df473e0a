"""Tags: an organization's labels for customers (Commerce Layer's `tags`), and which customers carry them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, exists, select

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import Customer, Tag, column_length, customer_tags
from portal.models.orgs import Organization
from portal.services import customers as customers_service
from portal.services import validation
from portal.services.audit import Actor, apply_changes, emit, record

FIELDS = frozenset({"name", "reference", "reference_origin", "metadata"})
_NAME_RE = re.compile(r"^[a-z0-9_]+$")
# Entries of one `_add_tags` / `_remove_tags` list: a 1 MB body could otherwise name ~40,000 (one bound parameter
# each, past PostgreSQL's 65,535).
TRIGGER_ENTRIES_MAX = 100


def _name(value: Any) -> str:
    name = validation.text(value, "name", max_length=column_length(Tag.name), required=True)
    assert name is not None
    if not _NAME_RE.match(name):
        raise Invalid(
            "may contain only lowercase letters, digits and underscores", field="name", code="invalid"
        )
    return name


def _clean(attributes: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    validation.unknown_fields(attributes, FIELDS)
    values: dict[str, Any] = {}
    for field, value in attributes.items():
        if field == "name":
            values["name"] = _name(value)
        elif field == "metadata":
            values["metadata_"] = validation.metadata(value)
        else:
            values[field] = validation.text(value, field)
    if creating and "name" not in values:
        raise Invalid("can't be blank", field="name", code="blank")
    return values


def _check_name(org: Organization, tag: Tag | None, name: str | None) -> None:
    if name is None:
        return
    clash = select(Tag.id).where(Tag.organization_id == org.id, Tag.name == name)
    if tag is not None and tag.id is not None:
        clash = clash.where(Tag.id != tag.id)
    if db.session.scalar(select(exists(clash))):
        raise Invalid("has already been taken", field="name", code="taken")


def get_tag(org: Organization, public_id: str) -> Tag:
    tag = db.session.scalar(select(Tag).where(Tag.organization_id == org.id, Tag.public_id == public_id))
    if tag is None:
        raise NotFound("The requested resource was not found", field="id")
    return tag


def tag_options(org: Organization) -> list[Tag]:
    """The org's tags by name, for pickers and the search filter."""
    return list(db.session.scalars(select(Tag).where(Tag.organization_id == org.id).order_by(Tag.name)))


def create_tag(actor: Actor, org: Organization, attributes: dict[str, Any]) -> Tag:
    """Create a tag; its name (lowercase letters, digits, `_`, at most 25) is unique in the organization."""
    values = _clean(attributes, creating=True)
    _check_name(org, None, values["name"])
    tag = Tag(organization_id=org.id, **values)
    db.session.add(tag)
    db.session.flush()
    record(actor, org, "tag.create", tag, [k.rstrip("_") for k in values])
    return tag


def update_tag(actor: Actor, org: Organization, tag: Tag, attributes: dict[str, Any]) -> Tag:
    values = _clean(attributes, creating=False)
    _check_name(org, tag, values.get("name"))
    apply_changes(actor, org, "tag.update", tag, values)
    return tag


def delete_tag(actor: Actor, org: Organization, tag: Tag) -> None:
    """Delete a tag; the customers carrying it lose it (the rows cascade)."""
    record(actor, org, "tag.destroy", tag)
    db.session.delete(tag)
    db.session.flush()


def resolve(org: Organization, value: Any, field: str) -> list[Tag]:
    """The org's tags named (or identified) in a comma-separated list, Commerce Layer's `_add_tags` / `_remove_tags`:
    duplicates, invalid and unknown entries are discarded. Only a value that is not a string, or that lists more than
    TRIGGER_ENTRIES_MAX tags, is an error."""
    if not isinstance(value, str):
        raise Invalid("must be a comma-separated list of tag names or ids", field=field, code="invalid")
    wanted = {item.strip() for item in value.split(",")}
    wanted = {item for item in wanted if item and not validation.has_control_characters(item)}
    if len(wanted) > TRIGGER_ENTRIES_MAX:
        raise Invalid(f"lists at most {TRIGGER_ENTRIES_MAX} tags", field=field, code="too_long")
    if not wanted:
        return []
    return list(
        db.session.scalars(
            select(Tag)
            .where(Tag.organization_id == org.id, Tag.name.in_(wanted) | Tag.public_id.in_(wanted))
            .order_by(Tag.name)
        )
    )


def set_tags(actor: Actor, org: Organization, customer: Customer, tags: list[Tag]) -> bool:
    """Make `tags` the customer's tags. Audited and announced (`customers.tagged`) only when something changed."""
    if customer.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="id")
    if any(tag.organization_id != org.id for tag in tags):
        raise NotFound("The requested resource was not found", field="tags")
    if customer.anonymized:
        raise Invalid("An anonymized customer cannot be changed", field="id", code="anonymized")
    before = {tag.id: tag for tag in customer.tags}
    after = {tag.id: tag for tag in tags}
    if set(after) == set(before):
        return False
    customer.tags = sorted(after.values(), key=lambda tag: tag.name)
    db.session.flush()
    record(
        actor,
        org,
        "customer.tags_change",
        customer,
        ["tags"],
        added=sorted(tag.public_id for i, tag in after.items() if i not in before),
        removed=sorted(tag.public_id for i, tag in before.items() if i not in after),
    )
    emit(org, "customers.tagged", customer, customer=customer)
    return True


def change_tags(
    actor: Actor, org: Organization, customer: Customer, *, add: list[Tag] = (), remove: list[Tag] = ()
) -> bool:
    """Add and remove tags (removal wins when a tag is in both)."""
    removed = {tag.id for tag in remove}
    tags = {tag.id: tag for tag in [*customer.tags, *add] if tag.id not in removed}
    return set_tags(actor, org, customer, list(tags.values()))


def add_by_name(actor: Actor, org: Organization, customer: Customer, name: Any) -> Tag:
    """The admin page's "add tag": the named tag (created when the org has none of that name) goes on the customer."""
    name = _name(name)
    tag = db.session.scalar(select(Tag).where(Tag.organization_id == org.id, Tag.name == name))
    if tag is None:
        tag = create_tag(actor, org, {"name": name})
    change_tags(actor, org, customer, add=[tag])
    return tag


def remove_tag(actor: Actor, org: Organization, customer: Customer, public_id: str) -> None:
    """Take one tag (by public id; another org's is not found) off the customer."""
    change_tags(actor, org, customer, remove=[get_tag(org, public_id)])


def bulk_tag(
    actor: Actor, org: Organization, customer_ids: list[str], tag: Tag, *, remove: bool = False
) -> int:
    """Tag (or untag) many customers by public id, like `groups.bulk_assign`: ids of other orgs, anonymized customers
    and ids that can't be public ids are ignored, the rows locked in id order (`customers.lock_many`). Returns how
    many customers changed."""
    if tag.organization_id != org.id:
        raise NotFound("The requested resource was not found", field="tag")
    customers = customers_service.lock_many(org, customer_ids)
    changes = {"remove": [tag]} if remove else {"add": [tag]}
    return sum(change_tags(actor, org, customer, **changes) for customer in customers)


def erase(customer_ids: list[int]) -> None:
    """Anonymization: the customers' tag memberships go (like their group)."""
    db.session.execute(delete(customer_tags).where(customer_tags.c.customer_id.in_(customer_ids)))
