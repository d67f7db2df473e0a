"""Services: tags (names, resolve, set/change, bulk), subscriptions (consent), attachments (notes), URL rule."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import AuditEvent, OutboxMessage
from portal.models.customers import AnonymizationStatus
from portal.services import attachments, subscriptions, tags, validation
from portal.services.audit import SYSTEM, Actor
from tests.factories import make_customer, make_org, make_user


@pytest.fixture()
def org(db_session):
    return make_org()


def test_resolve_takes_names_or_ids_of_the_org_only(org):
    other = make_org()
    vip = tags.create_tag(SYSTEM, org, {"name": "vip"})
    gold = tags.create_tag(SYSTEM, org, {"name": "gold"})
    theirs = tags.create_tag(SYSTEM, other, {"name": "theirs"})
    found = tags.resolve(org, f" vip , {gold.public_id},vip,{theirs.public_id},theirs,,\x00bad", "_add_tags")
    assert [t.name for t in found] == ["gold", "vip"]
    assert tags.resolve(org, "", "_add_tags") == [] and vip in tags.resolve(org, "vip", "x")
    with pytest.raises(Invalid) as error:
        tags.resolve(org, 42, "_add_tags")
    assert error.value.field == "_add_tags"


def test_set_tags_records_and_emits_only_changes(org):
    customer = make_customer(org)
    vip = tags.create_tag(SYSTEM, org, {"name": "vip"})
    assert tags.set_tags(SYSTEM, org, customer, [vip]) is True
    assert tags.set_tags(SYSTEM, org, customer, [vip]) is False
    assert tags.change_tags(SYSTEM, org, customer, add=[vip], remove=[vip]) is True  # removal wins
    assert customer.tags == []
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.tags_change")).all()
    assert [(e.details["added"], e.details["removed"]) for e in events] == [
        ([vip.public_id], []),
        ([], [vip.public_id]),
    ]
    topics = db.session.scalars(select(OutboxMessage.topic).where(OutboxMessage.kind == "event")).all()
    assert topics.count("customers.tagged") == 2


def test_tags_refuse_other_orgs_and_anonymized_customers(org):
    other = make_org()
    customer = make_customer(org)
    theirs = tags.create_tag(SYSTEM, other, {"name": "theirs"})
    with pytest.raises(NotFound):
        tags.set_tags(SYSTEM, org, customer, [theirs])
    with pytest.raises(NotFound):
        tags.set_tags(SYSTEM, other, customer, [])
    with pytest.raises(NotFound):
        tags.get_tag(org, theirs.public_id)
    customer.anonymization_status = AnonymizationStatus.COMPLETED
    with pytest.raises(Invalid):
        tags.add_by_name(SYSTEM, org, customer, "vip")


def test_add_by_name_creates_the_tag_once(org):
    a, b = make_customer(org), make_customer(org)
    first = tags.add_by_name(SYSTEM, org, a, "vip")
    assert tags.add_by_name(SYSTEM, org, b, "vip") is first
    with pytest.raises(Invalid) as error:
        tags.add_by_name(SYSTEM, org, a, "Bad Name")
    assert (error.value.field, error.value.code) == ("name", "invalid")


def test_bulk_tag_skips_foreign_and_anonymized_customers(org):
    other = make_org()
    vip = tags.create_tag(SYSTEM, org, {"name": "vip"})
    mine, gone, theirs = make_customer(org), make_customer(org), make_customer(other)
    gone.anonymization_status = AnonymizationStatus.COMPLETED
    ids = [mine.public_id, gone.public_id, theirs.public_id, "\x00"]
    assert tags.bulk_tag(SYSTEM, org, ids, vip) == 1
    assert tags.bulk_tag(SYSTEM, org, ids, vip) == 0  # already tagged: nothing changes
    assert [c.tags for c in (gone, theirs)] == [[], []]
    assert tags.bulk_tag(SYSTEM, org, ids, vip, remove=True) == 1 and mine.tags == []
    with pytest.raises(NotFound):
        tags.bulk_tag(SYSTEM, other, ids, vip)


def test_deleting_a_tag_untags_its_customers(org):
    customer = make_customer(org)
    vip = tags.add_by_name(SYSTEM, org, customer, "vip")
    tags.delete_tag(SYSTEM, org, vip)
    db.session.expire(customer)
    assert customer.tags == []


def test_newsletter_consent_is_recorded_with_source_and_withdrawn(org):
    customer = make_customer(org)
    actor = Actor.of_customer(customer)
    assert subscriptions.set_newsletter(actor, org, customer, True, source="shop") is True
    consent = subscriptions.newsletter(customer)
    assert consent.source == "shop" and consent.created_at is not None
    assert subscriptions.set_newsletter(actor, org, customer, True, source="shop") is False
    assert subscriptions.set_newsletter(actor, org, customer, False, source="shop") is True
    assert subscriptions.newsletter(customer) is None
    details = db.session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.action.in_(["customer.subscribe", "customer.unsubscribe"])
        )
    ).all()
    assert [d["source"] for d in details] == ["shop", "shop"]


def test_a_subscription_needs_a_customer_of_the_org(org):
    other = make_org()
    make_customer(other, "elsewhere@example.com")
    with pytest.raises(Invalid) as error:
        subscriptions.create_subscription(
            SYSTEM, org, {"customer_email": "elsewhere@example.com", "reference": "n"}, source="api"
        )
    assert error.value.field == "customer_email"


def test_notes_are_written_by_staff_and_erased(org):
    customer = make_customer(org)
    staff = Actor.of_user(make_user(org, "admin"))
    note = attachments.add_note(staff, org, customer, "line one\nline two")
    assert (note.name, note.description, note.reference_origin) == (
        "Sam Staff",
        "line one\nline two",
        attachments.NOTE_ORIGIN,
    )
    with pytest.raises(Invalid):
        attachments.add_note(SYSTEM, org, customer, "no author")
    with pytest.raises(Invalid):
        attachments.add_note(staff, org, customer, " ")
    with pytest.raises(NotFound):
        attachments.create_attachment(staff, make_org(), customer, {"name": "x"})
    attachments.erase([customer.id])
    assert attachments.attachments_of(org, customer) == []


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://example.com/a.pdf", True),
        ("http://example.com", True),
        ("HTTPS://EXAMPLE.COM/x", True),
        ("javascript:alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("//example.com/x", False),
        ("https://", False),
        ("https://exa mple.com", False),
        ("http://[::1", False),
        ("ftp://example.com", False),
    ],
)
def test_http_url(value, ok):
    if ok:
        assert validation.http_url(value) == value
    else:
        with pytest.raises(Invalid):
            validation.http_url(value)
