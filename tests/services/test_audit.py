"""audit.apply_changes: the one "apply a dict of changes, record what changed" every update service uses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent
from portal.services import audit, groups
from portal.services.audit import SYSTEM
from tests.factories import make_group, make_org


@pytest.fixture()
def org(db_session):
    return make_org()


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_one_event_names_the_changed_public_fields(org):
    group = make_group(org, name="Gold", code="gold")
    changed = audit.apply_changes(
        SYSTEM, org, "customer_group.update", group, {"name": "Gold", "code": "vip", "metadata_": {"tier": 1}}
    )
    assert changed == ["code", "metadata"]  # the unchanged name is neither written nor recorded
    assert (group.code, group.metadata_) == ("vip", {"tier": 1})
    [event] = events("customer_group.update")
    assert event.changed_fields == ["code", "metadata"] and event.resource_id == group.public_id
    assert event.details == {}  # names only: no values (personal data never enters the audit trail)


def test_no_change_writes_no_event(org):
    group = make_group(org, name="Gold", code="gold")
    assert audit.apply_changes(SYSTEM, org, "customer_group.update", group, {"name": "Gold"}) == []
    groups.update_group(SYSTEM, org, group, {"name": "Gold", "code": "gold"})
    assert events("customer_group.update") == []
