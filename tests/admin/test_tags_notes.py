"""Tags and staff notes on the admin customer page, the tag filter of the search and bulk tagging."""

from __future__ import annotations

from sqlalchemy import select

from portal import db
from portal.models import Attachment, AuditEvent
from portal.services import attachments, search, tags
from portal.services.audit import SYSTEM, Actor
from tests.admin.conftest import token
from tests.factories import make_customer, make_user


def page(client, org, customer):
    return f"/admin/{org.slug}/customers/{customer.public_id}"


def test_admin_adds_and_removes_tags(as_admin, org, customer, hx):
    url = page(as_admin, org, customer)
    csrf = token(as_admin, url)
    added = as_admin.post(f"{url}/tags", data={"name": "vip", "csrf_token": csrf})
    assert added.status_code == 303
    assert [t.name for t in customer.tags] == ["vip"]
    fragment = as_admin.post(f"{url}/tags", data={"name": "newsletter_2026", "csrf_token": csrf}, headers=hx)
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith(
        '<section class="card" id="tags_panel"'
    )
    assert "newsletter_2026" in fragment.text and "vip" in fragment.text
    db.session.refresh(customer)
    vip = next(t for t in customer.tags if t.name == "vip")
    removed = as_admin.post(f"{url}/tags/{vip.public_id}/remove", data={"csrf_token": csrf})
    assert removed.status_code == 303
    db.session.refresh(customer)
    assert [t.name for t in customer.tags] == ["newsletter_2026"]
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.resource_id == customer.public_id)
    ).all()
    assert actions.count("customer.tags_change") == 3


def test_a_bad_tag_name_is_an_inline_error(as_admin, org, customer, hx):
    url = page(as_admin, org, customer)
    csrf = token(as_admin, url)
    for headers in ({}, hx):
        response = as_admin.post(
            f"{url}/tags", data={"name": "Not Valid!", "csrf_token": csrf}, headers=headers
        )
        assert response.status_code == 422
        assert "lowercase letters, digits and underscores" in response.text
        assert 'aria-invalid="true"' in response.text
    assert customer.tags == []


def test_notes_are_plain_escaped_text(as_admin, org, customer):
    url = page(as_admin, org, customer)
    csrf = token(as_admin, url)
    text = '<script>alert("x")</script>\nsecond line'
    assert as_admin.post(f"{url}/notes", data={"text": text, "csrf_token": csrf}).status_code == 303
    html = as_admin.get(url).text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    [note] = db.session.scalars(select(Attachment)).all()
    assert note.reference_origin == attachments.NOTE_ORIGIN and note.attachable_id == customer.id
    blank = as_admin.post(f"{url}/notes", data={"text": "   ", "csrf_token": csrf})
    assert blank.status_code == 422
    deleted = as_admin.post(f"{url}/notes/{note.public_id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and db.session.scalars(select(Attachment)).all() == []


def test_note_links_are_http_only_and_not_followed(as_admin, org, customer, admin):
    attachments.create_attachment(
        Actor.of_user(admin), org, customer, {"name": "Contract", "url": 'https://docs.example/x?a="b"'}
    )
    html = as_admin.get(page(as_admin, org, customer)).text
    assert 'href="https://docs.example/x?a=&#34;b&#34;" rel="noopener noreferrer nofollow"' in html


def test_readers_see_tags_and_notes_without_forms(as_reader, org, customer, admin):
    tags.add_by_name(SYSTEM, org, customer, "vip")
    attachments.add_note(Actor.of_user(admin), org, customer, "Prefers phone calls")
    html = as_reader.get(page(as_reader, org, customer)).text
    assert "vip" in html and "Prefers phone calls" in html
    assert "Add a tag" not in html and "Add note" not in html and "/remove" not in html


def test_another_orgs_tag_or_note_is_not_found(as_admin, org, other_org, customer):
    foreign = make_customer(other_org)
    their_tag = tags.add_by_name(SYSTEM, other_org, foreign, "theirs")
    their_note = attachments.add_note(Actor.of_user(make_user(other_org, "admin")), other_org, foreign, "x")
    url = page(as_admin, org, customer)
    csrf = token(as_admin, url)
    assert (
        as_admin.post(f"{url}/tags/{their_tag.public_id}/remove", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert (
        as_admin.post(f"{url}/notes/{their_note.public_id}/delete", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert db.session.get(Attachment, their_note.id) is not None


def test_search_filters_by_tag(as_reader, org, customer):
    other = make_customer(org, "bob@example.com")
    vip = tags.add_by_name(SYSTEM, org, customer, "vip")
    tags.add_by_name(SYSTEM, org, other, "gold")
    html = as_reader.get(f"/admin/{org.slug}/customers?tag={vip.public_id}").text
    assert customer.email in html and other.email not in html
    assert f'<option value="{vip.public_id}" selected>vip</option>' in html
    assert [c.email for c in search.search(org, search.Query(tag="nope")).customers] == []


def test_bulk_tag_confirms_then_applies_and_removes(as_admin, org, customer, other_org):
    bob = make_customer(org, "bob@example.com")
    foreign = make_customer(other_org, "foreign@example.com")
    vip = tags.create_tag(SYSTEM, org, {"name": "vip"})
    csrf = token(as_admin, f"/admin/{org.slug}/customers")
    ids = [customer.public_id, bob.public_id, foreign.public_id]
    data = {"ids": ids, "tag": vip.public_id, "action": "add", "csrf_token": csrf}
    confirm = as_admin.post(f"/admin/{org.slug}/customers/bulk-tag", data=data)
    assert confirm.status_code == 200 and "<strong>3</strong>" in confirm.text and customer.tags == []
    done = as_admin.post(f"/admin/{org.slug}/customers/bulk-tag", data={**data, "confirmed": "y"})
    assert done.status_code == 303
    tagged = {c.email for c in search.search(org, search.Query(tag=vip.public_id)).customers}
    assert tagged == {customer.email, bob.email}
    assert foreign.tags == []
    removed = as_admin.post(
        f"/admin/{org.slug}/customers/bulk-tag", data={**data, "action": "remove", "confirmed": "y"}
    )
    assert removed.status_code == 303
    assert search.search(org, search.Query(tag=vip.public_id)).customers == []


def test_bulk_tag_refuses_another_orgs_tag(as_admin, org, customer, other_org):
    theirs = tags.create_tag(SYSTEM, other_org, {"name": "theirs"})
    csrf = token(as_admin, f"/admin/{org.slug}/customers")
    data = {
        "ids": [customer.public_id],
        "tag": theirs.public_id,
        "action": "add",
        "confirmed": "y",
        "csrf_token": csrf,
    }
    response = as_admin.post(f"/admin/{org.slug}/customers/bulk-tag", data=data)
    assert response.status_code == 422
    assert customer.tags == []
