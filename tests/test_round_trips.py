"""PostgreSQL round trips a request doesn't need: an API read or a page marked `reads_only` runs its statements in
autocommit (no BEGIN, no COMMIT), a write keeps its transaction, and a pooled connection is pinged only after it has
waited in the pool."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text

from portal import db
from portal.models import Customer
from tests.admin.conftest import login as staff_login
from tests.conftest import TransactionalClient
from tests.factories import PASSWORD, make_application, make_customer, make_org, make_user, token_for
from tests.shop.conftest import login as shopper_login

pytestmark = pytest.mark.postgres_only

JSON_API = "application/vnd.api+json"


def _autocommit_by_statement(engine, call) -> tuple[object, list[tuple[bool, str]]]:
    """`call()`'s result, and for each statement it ran: whether the driver's connection was in autocommit."""
    seen: list[tuple[bool, str]] = []

    def grab(connection, _cursor, statement, *_):
        seen.append((connection.connection.dbapi_connection.autocommit, statement.split()[0].upper()))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        return call(), seen
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def test_api_reads_run_in_autocommit_and_writes_in_a_transaction(app, committed, monkeypatch):
    engine = app.extensions["db_bind"]
    org = make_org()
    customer = make_customer(org, "reader@example.com")
    application, _ = make_application(org)
    db.session.commit()
    token = token_for(application)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}", "Accept": JSON_API}
    client = app.test_client(use_cookies=False)

    # The first request of a window writes the rate limit's counter: in a transaction of its own, after which the
    # request's reads go on in a transaction too.
    response, statements = _autocommit_by_statement(
        engine, lambda: client.get("/api/customers", headers=headers)
    )
    assert response.status_code == 200, response.json
    assert statements[0] == (True, "SELECT")  # the token
    assert [s for s in statements[1:] if s[1] in ("SET", "INSERT")] == [(False, "SET"), (False, "INSERT")]
    assert not any(autocommit for autocommit, _ in statements[1:]), statements

    monkeypatch.setitem(
        app.config, "API_RATE_LIMIT", ""
    )  # no counter to write: every statement in autocommit
    for path in ("/api/customers?filter[q][email_cont]=reader", f"/api/customers/{customer.public_id}"):
        response, statements = _autocommit_by_statement(
            engine, lambda path=path: client.get(path, headers=headers)
        )
        assert response.status_code == 200, response.json
        assert statements and all(autocommit for autocommit, _ in statements), (path, statements)

    body = {"data": {"type": "customers", "id": customer.public_id, "attributes": {"reference": "R-1"}}}
    response, statements = _autocommit_by_statement(
        engine,
        lambda: client.patch(
            f"/api/customers/{customer.public_id}",
            json=body,
            headers={**headers, "Content-Type": JSON_API},
        ),
    )
    assert response.status_code == 200, response.json
    assert any(verb == "UPDATE" for _, verb in statements)
    assert not any(autocommit for autocommit, _ in statements), statements

    # A refused write leaves nothing behind: its transaction is rolled back.
    bad = {"data": {"type": "customers", "id": customer.public_id, "attributes": {"email": "not an email"}}}
    refused = client.patch(
        f"/api/customers/{customer.public_id}", json=bad, headers={**headers, "Content-Type": JSON_API}
    )
    assert refused.status_code == 422
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).email == "reader@example.com"


def test_pages_marked_reads_only_run_in_autocommit_and_the_others_in_a_transaction(
    app, committed, monkeypatch
):
    engine = app.extensions["db_bind"]
    monkeypatch.setattr(app, "test_client_class", TransactionalClient)  # each request with its own `g`
    org = make_org()
    shopper = make_customer(org, "shopper@example.com", password=PASSWORD)
    staff = make_user(org, "admin")
    db.session.commit()
    shop, admin, anonymous = app.test_client(), app.test_client(), app.test_client()
    shopper_login(shop, org, shopper.email)
    staff_login(admin, staff)

    marked = (
        (anonymous, f"/{org.slug}/account/login"),
        (shop, f"/{org.slug}/account/"),
        (admin, f"/admin/{org.slug}/"),
        (admin, f"/admin/{org.slug}/customers?q=shopper"),
    )
    for client, path in marked:
        response, statements = _autocommit_by_statement(
            engine, lambda client=client, path=path: client.get(path)
        )
        assert response.status_code == 200, path
        assert statements and all(autocommit for autocommit, _ in statements), (path, statements)

    for client, path in ((shop, f"/{org.slug}/account/profile"), (admin, f"/admin/{org.slug}/groups")):
        response, statements = _autocommit_by_statement(
            engine, lambda client=client, path=path: client.get(path)
        )
        assert response.status_code == 200, path
        assert statements and not any(autocommit for autocommit, _ in statements), (path, statements)


def test_a_pooled_connection_is_pinged_only_after_waiting_and_replaced_when_dead(committed, monkeypatch):
    engine = db.make_engine(committed)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi: pings.append(1) or real_ping(dbapi))
    try:
        with engine.connect() as connection:  # a new connection: no ping
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as connection:  # back from the pool a moment ago: no ping
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar() == pid
        assert pings == []

        other = db.make_engine(committed)
        with other.connect() as connection:  # the server ends the idle pooled connection
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        other.dispose()
        time.sleep(db.PING_AFTER_IDLE_SECONDS + 0.1)
        with engine.connect() as connection:  # it failed its ping: a fresh one serves, with no error
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        assert pings
    finally:
        engine.dispose()


def test_a_failed_ping_discards_the_whole_pool(committed, monkeypatch):
    """One failed ping and the other pooled connections (dead too, after a restart) are replaced without a ping each."""
    engine = db.make_engine(committed)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi: pings.append(1) or real_ping(dbapi))
    killer = db.make_engine(committed)
    try:
        first, second = engine.connect(), engine.connect()
        old = {c.execute(text("SELECT pg_backend_pid()")).scalar() for c in (first, second)}
        first.close()
        second.close()
        with killer.connect() as connection:
            for pid in old:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(db.PING_AFTER_IDLE_SECONDS + 0.1)
        with engine.connect() as one, engine.connect() as two:
            new = {c.execute(text("SELECT pg_backend_pid()")).scalar() for c in (one, two)}
        assert not new & old and len(new) == 2
        assert pings == [1]
    finally:
        engine.dispose()
        killer.dispose()


def test_a_connection_dying_right_after_use_costs_one_request_a_503(app, committed):
    """The trade-off of not pinging a connection used less than a second ago: a request on one that died meanwhile
    answers 503 (try again), never a 500, and the next request gets a working connection."""
    org = make_org()
    application, _ = make_application(org)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token_for(application)}", "Accept": JSON_API}
    db.session.commit()
    db.session.remove()
    client = app.test_client(use_cookies=False)
    assert client.get("/api/customers", headers=headers).status_code == 200
    killer = db.make_engine(committed)
    try:
        with killer.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        killer.dispose()
    failed = client.get("/api/customers", headers=headers)
    assert failed.status_code == 503, failed.json
    assert failed.json["errors"][0]["code"] == "SERVICE_UNAVAILABLE"
    assert client.get("/api/customers", headers=headers).status_code == 200
