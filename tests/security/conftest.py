"""Security-sweep fixtures: one small org with one of everything (so every URL converter gets a real id), and
signing in through the real login forms."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import db
from portal.db import Base
from portal.models import AuditEvent, EventCallback, Market, OutboxMessage, Passkey
from portal.services import (
    addresses,
    attachments,
    consents,
    deletion_requests,
    orgs,
    password_resets,
    subscriptions,
    tags,
    webhooks,
)
from portal.services.audit import SYSTEM, Actor
from tests.conftest import TransactionalClient
from tests.factories import (
    PASSWORD,
    make_application,
    make_customer,
    make_group,
    make_order,
    make_org,
    make_user,
    token_for,
)

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
STOREFRONT = "https://shop.security.example"

# Columns a read may legitimately touch: the session row's liveness stamp (written at most every 30 s by the
# session loader, security/sessions.py), which carries no business state.
READ_TOUCHES = {("login_sessions", "last_seen_at")}
# Rate-limit and lockout counters (portal/security/counters.py) count every attempt, refused ones above all: they
# are the one write a refused request makes on purpose, and no domain data.
COUNTERS = {"throttle"}


def new_client(app: Flask) -> TransactionalClient:
    """One more browser: the suite's transactional client (fresh `g` per request) with its own cookie jar."""
    return TransactionalClient(app, app.response_class, use_cookies=True)


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the rendered form"
    return match.group(1)


def shop_login(client: FlaskClient, slug: str, email: str, password: str = PASSWORD):
    page = client.get(f"/{slug}/account/login")
    return client.post(
        f"/{slug}/account/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
    )


def admin_login(client: FlaskClient, email: str, password: str = PASSWORD):
    page = client.get("/admin/login")
    return client.post(
        "/admin/login", data={"email": email, "password": password, "csrf_token": csrf_from(page.text)}
    )


@pytest.fixture()
def anonymous(app: Flask, client: FlaskClient) -> FlaskClient:
    """A browser without a session (the `client` fixture is requested for its limiter reset and transaction)."""
    return new_client(app)


@dataclass
class World:
    org: object
    shopper: object
    admin: object
    token: str  # integration token, role admin
    ids: dict[str, str]  # URL argument name → a real value
    api_ids: dict[str, str]  # JSON:API resource type → a real id


def _passkey(org, principal_type: str, principal_id: int) -> Passkey:
    """A stored passkey row (no ceremony: these tests only need it to exist and belong to someone)."""
    passkey = Passkey(
        organization_id=org.id if org else None,
        principal_type=principal_type,
        principal_id=principal_id,
        credential_id=secrets.token_urlsafe(16),
        public_key=b"not a key",
        name="Phone",
    )
    db.session.add(passkey)
    return passkey


def build_world() -> World:
    """One org with one of everything; call it twice for a home and a foreign org (tests/security/test_tenancy.py)."""
    org = make_org()
    org.allowed_origins = [STOREFRONT]
    shopper = make_customer(org, password=PASSWORD)
    entry = addresses.add_to_address_book(
        SYSTEM,
        org,
        shopper,
        {
            "first_name": "Sec",
            "last_name": "Shopper",
            "line_1": "1 Main Street",
            "city": "London",
            "zip_code": "12345",
            "country_code": "GB",
            "phone": "+44 20 7946 0000",
        },
    )
    order = make_order(org, shopper)
    group = make_group(org, "VIP")
    market = db.session.scalar(select(Market).where(Market.organization_id == org.id))
    admin = make_user(org, "admin")
    member = make_user(org, "read_only")
    application, _secret = make_application(org, "integration", "admin")
    leaving = make_customer(org, password=PASSWORD)
    deletion = deletion_requests.create(SYSTEM, org, leaving)
    reset, _token = password_resets.request_reset(SYSTEM, org, shopper.email)
    webhook = webhooks.create_webhook(
        SYSTEM, org, {"topic": "customers.create", "callback_url": "http://127.0.0.1:9/hook"}
    )
    db.session.flush()
    event = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.organization_id == org.id, OutboxMessage.kind == "event")
    ).first()
    callback = EventCallback(
        organization_id=org.id,
        webhook_id=webhook.id,
        outbox_message_id=event.id,
        topic=event.topic,
        callback_url=webhook.callback_url,
        payload="{}",
    )
    db.session.add(callback)
    passkey = _passkey(org, "customer", shopper.id)
    staff_passkey = _passkey(None, "user", admin.id)
    webapp, _secret = orgs.create_application(
        SYSTEM, org, name="Webapp", kind="webapp", redirect_uris=["https://app.example.com/cb"]
    )
    consent = consents.give_consent(SYSTEM, webapp, shopper, "")
    tag = tags.add_by_name(
        SYSTEM, org, leaving, "vip"
    )  # the shopper carries none: bulk tagging it changes a row
    subscription = subscriptions.subscribe(SYSTEM, org, shopper, {"reference": "newsletter"}, source="shop")
    note = attachments.add_note(Actor.of_user(admin), org, shopper, "Prefers email")
    db.session.flush()
    audit_event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.resource_id == shopper.public_id).order_by(AuditEvent.id).limit(1)
    )
    return World(
        org=org,
        shopper=shopper,
        admin=admin,
        token=token_for(application),
        ids={
            "org_slug": org.slug,
            "customer_id": shopper.public_id,
            "group_id": group.public_id,
            "market_id": market.public_id,
            "request_id": deletion.public_id,
            "user_id": member.public_id,
            "application_id": application.public_id,
            "consent_id": consent.public_id,
            "address_id": entry.public_id,
            "order_id": order.public_id,
            "tag_id": tag.public_id,
            "note_id": note.public_id,
            "token": "not-a-real-token",
            "session_id": "1",
            "webhook_id": webhook.public_id,
            "passkey_id": passkey.public_id,
            "staff_passkey_id": staff_passkey.public_id,
        },
        api_ids={
            "customers": shopper.public_id,
            "customer_groups": group.public_id,
            "markets": market.public_id,
            "orders": order.public_id,
            "addresses": entry.address.public_id,
            "customer_addresses": entry.public_id,
            "customer_password_resets": reset.public_id if reset else "none",
            "webhooks": webhook.public_id,
            "events": event.public_id,
            "event_callbacks": callback.public_id,
            "tags": tag.public_id,
            "customer_subscriptions": subscription.public_id,
            "attachments": note.public_id,
            "event_stores": audit_event.public_id,
        },
    )


@pytest.fixture()
def world(db_session) -> World:
    return build_world()


def fingerprint() -> dict[str, tuple[int, object, str]]:
    """Per table in Base.metadata (minus COUNTERS): row count, max id, and a digest of every row (minus READ_TOUCHES
    columns)."""
    result = {}
    for table in Base.metadata.sorted_tables:
        if table.name in COUNTERS:
            continue
        key = list(table.primary_key.columns)
        keys = {c.name for c in key}
        columns = key + [
            c for c in table.columns if c.name not in keys and (table.name, c.name) not in READ_TOUCHES
        ]
        rows = db.session.execute(select(*columns).order_by(*key)).all()
        digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
        top = max((row[0] for row in rows), default=None) if len(key) == 1 else None
        result[table.name] = (len(rows), top, digest)
    return result


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])


@pytest.fixture()
def shopper_client(app: Flask, world: World, anonymous) -> FlaskClient:
    client = new_client(app)
    assert shop_login(client, world.org.slug, world.shopper.email).status_code == 303
    return client


@pytest.fixture()
def admin_client(app: Flask, world: World, anonymous) -> FlaskClient:
    client = new_client(app)
    assert admin_login(client, world.admin.email).status_code == 303
    return client
