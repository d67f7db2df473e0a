"""Operator commands: demo data, organizations, users, applications, seeding."""

import json

from sqlalchemy import func, select

from portal import db
from portal.demo.org import PASSWORD as DEMO_PASSWORD
from portal.extensions import limiter
from portal.models import Address, Application, Customer, CustomerAddress, Order, Organization, User
from portal.models.customers import CustomerStatus
from portal.models.orders import OrderStatus
from portal.security.passwords import token_digest
from portal.services import accounts, email_codes
from tests.services.test_email_codes import IP, mailed_code


def test_demo_json_is_complete_and_idempotent(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--json"])
    assert first.exit_code == 0, first.output
    details = json.loads(first.output)
    assert details["organization"]["slug"] == "demo"
    kinds = {a["kind"]: a for a in details["applications"]}
    assert set(kinds) == {"sales_channel", "integration", "user"}
    assert kinds["sales_channel"]["client_secret"] is None and kinds["integration"]["client_secret"]
    integration = db.session.scalar(
        select(Application).where(Application.client_id == kinds["integration"]["client_id"])
    )
    assert integration.secret_hash == token_digest(kinds["integration"]["client_secret"])
    customers = db.session.scalar(select(func.count()).select_from(Customer))
    assert customers == 12
    statuses = set(db.session.scalars(select(Customer.status)))
    assert statuses == set(CustomerStatus)
    assert set(db.session.scalars(select(Order.status))) == set(OrderStatus)
    assert db.session.scalar(select(func.count()).select_from(CustomerAddress)) > 0

    second = runner.invoke(args=["demo", "--json"])
    assert second.exit_code == 0, second.output
    assert db.session.scalar(select(func.count()).select_from(Customer)) == customers
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 1
    again = {a["kind"]: a for a in json.loads(second.output)["applications"]}
    assert again["integration"]["client_id"] == kinds["integration"]["client_id"]
    assert again["integration"]["client_secret"] != kinds["integration"]["client_secret"]


def test_demo_text_prints_logins(app, db_session):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0
    assert "admin@demo.example" in result.output and "client_id" in result.output


def test_create_org_user_application(app, db_session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-org", "--slug", "acme", "--name", "Acme"]).exit_code == 0
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "boss@acme.example",
            "--org",
            "acme",
            "--password",
            "a long password here",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["create-application", "--org", "acme", "--kind", "integration", "--name", "ERP"]
    )
    credentials = json.loads(result.output)
    assert credentials["client_secret"]
    assert (
        db.session.scalar(select(User).where(User.email == "boss@acme.example"))
        .role_in(db.session.scalar(select(Organization).where(Organization.slug == "acme")))
        .value
        == "admin"
    )


def test_create_webapp_with_redirect_uris(app, db_session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-org", "--slug", "webco", "--name", "Web Co"]).exit_code == 0
    base = ["create-application", "--org", "webco", "--kind", "webapp", "--name", "Helpdesk"]
    refused = runner.invoke(args=[*base, "--redirect-uri", "http://app.example.com/cb"])
    assert refused.exit_code != 0 and "must be https" in refused.output
    result = runner.invoke(args=[*base, "--redirect-uri", "https://app.example.com/cb"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["kind"] == "webapp" and json.loads(result.output)["client_secret"]


def test_create_org_refuses_reserved_and_duplicate_slugs(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-org", "--slug", "admin", "--name", "X"])
    assert result.exit_code != 0 and "slug: is reserved" in result.output
    runner.invoke(args=["create-org", "--slug", "dup", "--name", "X"])
    result = runner.invoke(args=["create-org", "--slug", "dup", "--name", "X"])
    assert result.exit_code != 0 and "has already been taken" in result.output


def test_seed_bulk_loads_consistent_customers(app, db_session):
    runner = app.test_cli_runner()
    runner.invoke(args=["create-org", "--slug", "bulk", "--name", "Bulk"])
    result = runner.invoke(args=["seed", "--org", "bulk", "--customers", "500", "--batch", "200"])
    assert result.exit_code == 0, result.output
    org = db.session.scalar(select(Organization).where(Organization.slug == "bulk"))
    rows = db.session.execute(select(Customer).where(Customer.organization_id == org.id)).scalars().all()
    assert len(rows) == 500
    assert len({c.public_id for c in rows}) == 500 and len({c.email for c in rows}) == 500
    for customer in rows[:50]:
        placed = db.session.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id == customer.id)
        )
        assert customer.total_orders_count == placed
        assert customer.status == CustomerStatus.for_order_count(placed)
    assert db.session.scalar(select(func.count()).select_from(Address)) > 100
    # The ORM still inserts after a bulk load (sequences were moved past the explicit keys).
    runner.invoke(args=["create-org", "--slug", "after", "--name", "After"])
    from tests.factories import make_customer

    assert make_customer(org).id > max(c.id for c in rows)


def test_big_seed_defers_indexes_and_restores_them(app, db_session, monkeypatch):
    """The bulk path (indexes and search triggers dropped, rebuilt after) leaves the schema and search intact."""
    from sqlalchemy import inspect

    from portal.demo import seeding
    from portal.services import search
    from tests.factories import make_customer, make_org

    monkeypatch.setattr(seeding, "BULK_THRESHOLD", 100)
    org = make_org()
    connection = db.session.connection()
    before = {t: sorted(i["name"] for i in inspect(connection).get_indexes(t)) for t in seeding.BULK_TABLES}
    seeding.seed(org, 300, batch=100)
    after = {
        t: sorted(i["name"] for i in inspect(db.session.connection()).get_indexes(t))
        for t in seeding.BULK_TABLES
    }
    assert after == before
    seeded = db.session.scalars(select(Customer).where(Customer.organization_id == org.id)).all()
    assert len(seeded) == 300
    probe = seeded[123].email
    found = search.search(org, search.parse({"q": probe[2:12]}))
    assert probe in [c.email for c in found.customers]
    make_customer(org, "after.the.load@example.com")  # the search triggers are back: new rows are indexed
    found = search.search(org, search.parse({"q": "after.the.lo"}))
    assert [c.email for c in found.customers] == ["after.the.load@example.com"]


def test_demo_shoppers_keep_their_printed_password_after_a_sign_in_code(app, db_session):
    """The README's tour signs Ada in with an emailed code: a code proves an unverified mailbox and ends a password
    set before it (pre-hijack), so the demo's shoppers start verified and the printed password keeps working."""
    limiter.reset()
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    org = db.session.scalar(select(Organization).where(Organization.slug == "demo"))
    email_codes.request_code(org, "ada@example.com")
    assert email_codes.sign_in(org, "ada@example.com", mailed_code("ada@example.com"), IP) is not None
    assert accounts.authenticate(org, "ada@example.com", DEMO_PASSWORD, IP) is not None
