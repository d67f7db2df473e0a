"""Webhook topics: every event a service emits is a topic one can subscribe to, and the main ones are emitted."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from portal import db
from portal.models import OutboxMessage
from portal.models.customers import CustomerStatus
from portal.services import customers, password_resets, webhooks
from portal.services.audit import SYSTEM
from tests.factories import make_customer, make_order, make_org

PORTAL = Path(__file__).resolve().parents[2] / "portal"


def emitted_topics() -> set[str]:
    topics = set()
    for path in PORTAL.rglob("*.py"):
        for literal in re.findall(r"\bemit\(\s*[\w.]+,\s*f?\"([^\"]+)\"", path.read_text()):
            if "{new_status.value}" in literal:
                topics |= {
                    literal.replace("{new_status.value}", s.value)
                    for s in CustomerStatus
                    if s.value != "prospect"
                }
            else:
                topics.add(literal)
    return topics


def test_every_emitted_topic_can_be_subscribed_to():
    topics = emitted_topics()
    assert len(topics) >= 10
    assert topics <= set(webhooks.TOPICS), topics - set(webhooks.TOPICS)


def test_the_services_emit_the_customer_topics(db_session):
    org = make_org()
    customer = make_customer(org, "ada@example.com", password="Correct-Horse-9")
    customers.update_customer(SYSTEM, org, customer, {"metadata": {"a": 1}})
    make_order(org, customer)
    make_order(org, customer)
    password_resets.request_reset(SYSTEM, org, "ada@example.com")
    other = make_customer(org)
    customers.delete_customer(SYSTEM, org, other)
    topics = set(db.session.scalars(select(OutboxMessage.topic).where(OutboxMessage.kind == "event")))
    assert {
        "customers.create",
        "customers.update",
        "customers.metadata_update",
        "customers.acquired",
        "customers.repeat",
        "customers.destroy",
        "customer_password_resets.create",
    } <= topics
