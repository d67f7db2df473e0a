"""G2 end to end: a customer who signed up through the shop (the emailed link), changed email, reset a password and
placed an order leaves nothing behind after anonymization or deletion: not in the database files (SQLite: the .db,
-wal and -shm bytes; PostgreSQL: every column of every table), not in the outbox, not in the mail folder."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from portal import db
from portal.jobs import anonymizer, mailer
from portal.models import Attachment, Customer, CustomerSubscription, OutboxMessage, Tag, customer_tags
from portal.models.customers import AnonymizationStatus
from portal.models.orgs import Organization
from portal.services import addresses, anonymization, attachments, orders, subscriptions, tags
from portal.services.audit import SYSTEM, Actor
from tests.conftest import TransactionalClient
from tests.factories import make_application, make_org, make_user, token_for
from tests.shop.conftest import post_form
from tests.test_anonymization_worker import address_of, org_market, scan

IP = "198.51.100.203"
LINK = re.compile(r"https?://[^/\s]+(/\S*)")


class Mailbox:
    """The file mailer's folder, read as the customer's inbox."""

    def __init__(self, app, directory: Path):
        self.app, self.directory = app, directory

    def link(self, to: str, part: str) -> str:
        """Deliver the outbox, then the newest link containing `part` in a mail to `to`. Ends the test's
        transaction (SQLite: the shop's requests must be able to write)."""
        mailer.deliver_due(self.app)
        texts = [
            message.payload.get("text", "")
            for message in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
            if to in message.recipients
        ]
        db.session.commit()
        return next(link for text in texts for link in LINK.findall(text) if part in link)


@pytest.fixture()
def mailbox(app, committed, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    monkeypatch.setattr(
        app, "test_client_class", TransactionalClient
    )  # a fresh `g` per request, as in production
    return Mailbox(app, tmp_path / "mail")


def live_customer(app, mailbox: Mailbox, *, with_order: bool) -> tuple[Organization, Customer, list[str]]:
    """Drive the real doors: sign-up and its link, sign-in, email change and its link, a password reset and its link,
    an address, an order; then an unfinished sign-up of the old (now free) address. Returns the needles."""
    marker = f"qzx{uuid.uuid4().hex}"
    old, new = f"{marker}old@example.com", f"{marker}new@example.com"
    first, second = f"{marker} first password", f"{marker} second password"
    org = make_org()
    db.session.commit()
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=IP, HTTP_USER_AGENT=f"{marker}agent")
    shop = f"/{org.slug}/account"
    signup = {"email": old, "password": first, "confirm": first}
    assert post_form(client, f"{shop}/signup", signup).status_code == 303
    assert post_form(client, mailbox.link(old, "/verify-email/"), {}).status_code == 303
    assert post_form(client, f"{shop}/login", {"email": old, "password": first}).status_code == 303
    change = {"email": new, "current_password": first}
    assert post_form(client, f"{shop}/profile", change).status_code == 303
    assert post_form(client, mailbox.link(new, "/confirm-email/"), {}).status_code == 303
    assert post_form(client, f"{shop}/password/forgot", {"email": new}).status_code == 303
    reset = {"password": second, "confirm": second}
    assert post_form(client, mailbox.link(new, "/password/reset/"), reset).status_code == 303
    assert post_form(client, f"{shop}/login", {"email": new, "password": second}).status_code == 303
    db.session.commit()
    assert (
        post_form(
            client, f"{shop}/privacy", {"subscribe": "yes"}, url=f"{shop}/privacy/newsletter"
        ).status_code
        == 303
    )
    customer = db.session.scalar(select(Customer).where(Customer.email == new))
    hashes = [customer.password_hash]
    addresses.add_to_address_book(SYSTEM, org, customer, address_of(f"{marker}book"))
    staff = Actor.of_user(make_user(org, "admin"))
    attachments.add_note(staff, org, customer, f"{marker} called about a refund")
    subscriptions.subscribe(
        staff, org, customer, {"reference": "offers", "metadata": {"m": marker}}, source="admin"
    )
    tags.add_by_name(staff, org, customer, "vip")
    if with_order:
        order = orders.create_order(
            SYSTEM,
            org,
            org_market(org),
            {"currency_code": "EUR", "total_amount_cents": 100},
            customer=customer,
            billing_address=address_of(f"{marker}bill"),
            shipping_address=address_of(f"{marker}ship"),
        )
        orders.place_order(SYSTEM, org, order)
    db.session.commit()
    stranger = app.test_client()
    assert post_form(stranger, f"{shop}/signup", {**signup, "email": old}).status_code == 303
    mailbox.link(old, "/verify-email/")  # delivered to the mail folder, never followed
    return org, customer, [marker, IP, *hashes]


def nothing_left_of(customer_id: int) -> bool:
    """No tag membership, consent record or staff note of the customer remains (rows keyed by its id)."""
    rows = [
        *db.session.execute(select(customer_tags).where(customer_tags.c.customer_id == customer_id)).all(),
        *db.session.scalars(
            select(CustomerSubscription).where(CustomerSubscription.customer_id == customer_id)
        ),
        *db.session.scalars(
            select(Attachment).where(
                Attachment.attachable_type == "customers", Attachment.attachable_id == customer_id
            )
        ),
    ]
    return rows == []


def leftovers(app, mailbox: Mailbox, needles: list[str], is_postgres: bool) -> list[str]:
    """Where any needle still is: the database (files or columns) and the mail folder."""
    found = [f"mail:{path.name}" for path in mailbox.directory.glob("*") if _holds(path, needles)]
    if is_postgres:
        return found + scan(needles)
    database = Path(db.session.get_bind().url.database)
    files = [database, *(database.with_name(database.name + tail) for tail in ("-wal", "-shm"))]
    return found + [f"file:{path.name}" for path in files if path.exists() and _holds(path, needles)]


def _holds(path: Path, needles: list[str]) -> bool:
    content = path.read_bytes()
    return any(needle.encode() in content for needle in needles)


def test_anonymizing_a_shop_customer_leaves_nothing_in_the_database_outbox_or_mail(app, mailbox, is_postgres):
    org, customer, needles = live_customer(app, mailbox, with_order=True)
    unfinished = mailbox.link(f"{needles[0]}old@example.com", "/verify-email/")
    assert leftovers(app, mailbox, needles, is_postgres)  # the scan finds what the flow wrote
    db.session.commit()
    request = anonymization.request_anonymization(Actor.of_user(make_user(org, "admin")), org, customer)
    request.due_at = db.utcnow() - timedelta(seconds=1)
    db.session.commit()

    assert anonymizer.process_due(app) == 1

    db.session.remove()
    assert leftovers(app, mailbox, needles, is_postgres) == []
    assert db.session.get(Customer, customer.id).anonymization_status is AnonymizationStatus.COMPLETED
    assert nothing_left_of(customer.id)
    assert (
        db.session.scalar(select(Tag).where(Tag.organization_id == org.id)).name == "vip"
    )  # the label stays
    db.session.commit()
    # The unfinished sign-up's link is dead: it does not re-create the account.
    response = post_form(app.test_client(), unfinished, {})
    assert response.status_code == 422
    assert db.session.scalar(select(Customer).where(Customer.email.like(f"{needles[0]}%"))) is None


def test_a_customer_deleting_itself_leaves_nothing_behind(app, mailbox, is_postgres):
    """Deletion is only for a customer without orders (423 otherwise), so this one has none."""
    org, customer, needles = live_customer(app, mailbox, with_order=False)
    application, _ = make_application(org, "sales_channel")
    token = token_for(application, owner=customer)
    customer_id = customer.id
    db.session.commit()
    assert leftovers(app, mailbox, needles, is_postgres)
    db.session.commit()

    response = app.test_client().delete(
        f"/api/customers/{customer.public_id}", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 204
    db.session.remove()
    assert leftovers(app, mailbox, needles, is_postgres) == []
    assert nothing_left_of(customer_id)
