"""Issue 13 #3 without a browser: a read-only member's pages carry no write action, and a write the guard refuses
explains itself instead of a bare "Forbidden" (the browser journeys are in tests/browser/test_staff_actions.py)."""

from __future__ import annotations

from sqlalchemy import select

from portal import db
from portal.models import CustomerGroup
from tests.admin.conftest import token


def test_a_refused_write_says_why_and_changes_nothing(as_reader, org, group):
    csrf = token(as_reader, f"/admin/{org.slug}/settings")
    response = as_reader.post(
        f"/admin/{org.slug}/groups/new", data={"name": "X", "code": "x", "csrf_token": csrf}
    )
    assert response.status_code == 403
    assert "read-only" in response.text and "Nothing was changed." in response.text
    assert db.session.scalar(select(CustomerGroup).where(CustomerGroup.code == "x")) is None


def test_read_only_pages_offer_no_write_action(as_reader, org, group, customer):
    for path in ("/groups", f"/groups/{group.public_id}", f"/customers/{customer.public_id}", "/markets"):
        html = as_reader.get(f"/admin/{org.slug}{path}").text
        for action in ("New group", "Send password-reset link", "Save group", "Delete", '/edit"'):
            assert action not in html, (path, action)
