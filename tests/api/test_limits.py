"""Rate limits on /api per application with Commerce Layer's headers (issue 15 item 12), and 204 without a media
type (item 13)."""

from __future__ import annotations

import pytest

from portal import db
from tests.factories import make_application, make_customer, make_group, token_for

CL_HEADERS = ("X-Ratelimit-Limit", "X-Ratelimit-Interval", "X-Ratelimit-Remaining")


@pytest.fixture()
def limit(app, monkeypatch):
    def set_limit(value):
        monkeypatch.setitem(app.config, "API_RATE_LIMIT", value)

    return set_limit


def names(response) -> set[str]:
    return {name for name, _ in response.headers}


def test_every_counted_response_carries_commerce_layers_headers(api, tenant, limit):
    limit("5 per minute")
    first = api("GET", "/api/customers", tenant.admin)
    assert first.status_code == 200
    assert set(CL_HEADERS) <= names(first)
    assert (first.headers["X-Ratelimit-Limit"], first.headers["X-Ratelimit-Interval"]) == ("5", "60")
    assert first.headers["X-Ratelimit-Remaining"] == "4"
    lowered = {name.lower() for name in names(first)}
    assert "retry-after" not in lowered and not any("reset" in name for name in lowered)
    second = api("GET", "/api/customer_groups", tenant.admin)
    assert second.headers["X-Ratelimit-Remaining"] == "3"


def test_the_budget_is_the_applications(api, tenant, limit):
    limit("2 per minute")
    other_token_same_app = token_for(tenant.integration)
    assert api("GET", "/api/customers", tenant.admin).status_code == 200
    assert api("GET", "/api/customers", other_token_same_app).status_code == 200
    refused = api("GET", "/api/customers", tenant.admin)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/vnd.api+json"
    error = refused.json["errors"][0]
    assert (error["code"], error["status"], error["title"]) == (
        "TOO_MANY_REQUESTS",
        "429",
        "Too many requests",
    )
    assert refused.headers["X-Ratelimit-Remaining"] == "0" and int(refused.headers["Retry-After"]) >= 1
    another_app, _ = make_application(tenant.org, "integration", "admin")
    assert api("GET", "/api/customers", token_for(another_app)).status_code == 200


def test_refused_writes_write_nothing(api, tenant, limit):
    limit("1 per minute")
    assert api("GET", "/api/customer_groups", tenant.admin).status_code == 200
    body = {"data": {"type": "customer_groups", "attributes": {"name": "Late"}}}
    assert api("POST", "/api/customer_groups", tenant.admin, body).status_code == 429
    limit("100 per minute")
    assert api("GET", "/api/customer_groups?filter[q][name_eq]=Late", tenant.admin).json["data"] == []


def test_no_limit_no_headers_and_bad_tokens_are_not_counted(api, tenant, limit):
    limit("1 per minute")
    for _ in range(3):
        refused = api("GET", "/api/customers", "not-a-token")
        assert refused.status_code == 401 and not set(CL_HEADERS) & names(refused)
    assert api("GET", "/api/customers", tenant.admin).status_code == 200
    limit(None)
    response = api("GET", "/api/customers", tenant.admin)
    assert response.status_code == 200 and not set(CL_HEADERS) & names(response)


def _shared_count(application, setting: str) -> int:
    """The application's count in the shared storage (what the other processes see)."""
    from limits import parse
    from sqlalchemy import select

    from portal.models import ThrottleCounter
    from portal.security.counters import digest

    key = parse(setting).key_for(f"api-app:{application.public_id}")
    return (
        db.session.scalar(select(ThrottleCounter.count).where(ThrottleCounter.key_hash == digest(key))) or 0
    )


def test_far_from_the_limit_a_process_writes_its_count_in_batches(api, tenant, limit, monkeypatch):
    from portal.api import limits

    monkeypatch.setattr(limits, "WRITE_SECONDS", 3600.0)  # only the batch size decides here
    limit("1000 per minute")
    remaining = [
        api("GET", "/api/customers", tenant.admin).headers["X-Ratelimit-Remaining"] for _ in range(20)
    ]
    assert remaining == [str(999 - n) for n in range(20)]  # this process's own requests are always counted
    # The first request wrote (a new window), then every WRITE_EVERY-th: 1 + 16; the last 3 wait for the next batch.
    assert _shared_count(tenant.integration, "1000 per minute") == 1 + limits.WRITE_EVERY


def test_near_the_end_every_request_is_written_and_a_second_process_sees_them(
    api, tenant, limit, monkeypatch
):
    from portal.api import limits

    monkeypatch.setattr(limits, "WRITE_SECONDS", 3600.0)
    limit("30 per minute")  # fewer than NEAR_END left from the start: exact throughout
    for _ in range(10):
        assert api("GET", "/api/customers", tenant.admin).status_code == 200
    assert _shared_count(tenant.integration, "30 per minute") == 10
    monkeypatch.setattr(limits, "_tallies", {})  # another process: no local tally, only the shared count
    assert api("GET", "/api/customers", tenant.admin).headers["X-Ratelimit-Remaining"] == "19"


def test_a_204_has_no_content_type(api, tenant):
    group = make_group(tenant.org)
    response = api("DELETE", f"/api/customer_groups/{group.public_id}", tenant.admin)
    assert response.status_code == 204
    assert "Content-Type" not in response.headers and response.get_data() == b""
    customer = make_customer(tenant.org)
    assert "Content-Type" not in api("DELETE", f"/api/customers/{customer.public_id}", tenant.admin).headers


@pytest.mark.postgres_only
def test_the_count_is_committed_before_the_requests_work(app, committed, limit):
    """While one request of an application runs, the next one's count must not wait for it: the counter row is
    committed (its lock released) before the view runs, not held until the request ends, and its asynchronous commit
    ends with it."""
    from sqlalchemy import create_engine, text

    from portal.api.limits import count_request
    from portal.models import ThrottleCounter
    from tests.factories import make_org

    limit("100 per minute")
    org = make_org()
    application, _ = make_application(org, "integration", "admin")
    bearer = token_for(application)
    db.session.commit()
    with app.test_request_context("/api/customers", headers={"Authorization": f"Bearer {bearer}"}):
        count_request()  # the request's view would run now, in the same session
        # The counter's transaction skipped the WAL flush; the view's (customer data) must not.
        assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "on"
        other = create_engine(committed)
        try:
            with other.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '2s'"))
                updated = connection.execute(
                    ThrottleCounter.__table__.update().values(count=ThrottleCounter.__table__.c.count)
                ).rowcount
        finally:
            other.dispose()
        assert updated == 1
        db.session.rollback()


def _fail_counter_writes(is_postgres: bool, on: bool) -> None:
    """A real database failure of the counter's update (as a full disk or a lost connection would make it)."""
    from sqlalchemy import text

    if not on:
        db.session.execute(text("DROP TRIGGER throttle_fails" + (" ON throttle" if is_postgres else "")))
    elif is_postgres:
        db.session.execute(
            text(
                "CREATE FUNCTION throttle_fails() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = '53100'; END $$"
            )
        )
        db.session.execute(
            text(
                "CREATE TRIGGER throttle_fails BEFORE UPDATE ON throttle FOR EACH ROW EXECUTE FUNCTION throttle_fails()"
            )
        )
    else:
        db.session.execute(
            text(
                "CREATE TRIGGER throttle_fails BEFORE UPDATE ON throttle BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    db.session.commit()


def test_a_batch_whose_write_fails_is_written_with_the_next_one(api, tenant, limit, monkeypatch, is_postgres):
    from sqlalchemy.exc import SQLAlchemyError

    from portal.api import limits

    monkeypatch.setattr(limits, "WRITE_SECONDS", 3600.0)
    limit("1000 per minute")
    for _ in range(limits.WRITE_EVERY):  # the first is written (a new window), the next 15 wait for the batch
        assert api("GET", "/api/customers", tenant.admin).status_code == 200
    _fail_counter_writes(is_postgres, on=True)
    try:
        failed = api("GET", "/api/customers", tenant.admin).status_code
    except SQLAlchemyError:  # SQLite's trigger error is not an outage (503): the test client raises it
        failed = 500
    assert failed >= 500
    _fail_counter_writes(is_postgres, on=False)
    assert api("GET", "/api/customers", tenant.admin).status_code == 200
    # The 15 admitted requests and the failed one were not lost with the failed write: they are in the next one.
    assert _shared_count(tenant.integration, "1000 per minute") == 1 + limits.WRITE_EVERY + 1


def test_while_a_batch_is_being_written_the_process_admits_no_unwritten_request(
    app, committed, is_postgres, limit, monkeypatch
):
    """The bound of SECURITY.md (at most WRITE_EVERY requests per process that the others cannot see yet) holds
    with threads too: while one thread's batch waits for the counter row, the others' requests are not admitted
    unwritten. Here the row is locked by another connection, as a busy database or another process would hold it."""
    import sqlite3
    import threading

    from flask.testing import FlaskClient
    from sqlalchemy import create_engine, text

    from portal.api import limits
    from tests.factories import make_org

    monkeypatch.setattr(limits, "WRITE_SECONDS", 3600.0)
    limit("1000 per minute")
    application, _ = make_application(make_org(), "integration", "admin")
    headers = {"Authorization": f"Bearer {token_for(application)}", "Accept": "application/vnd.api+json"}
    db.session.commit()
    client = FlaskClient(app, app.response_class)  # a plain client: each thread's request has its own session
    statuses: list[int] = []

    def get() -> None:
        statuses.append(client.get("/api/customer_groups", headers=headers).status_code)

    for _ in range(limits.WRITE_EVERY):  # the first is written (a new window), the next 15 wait for the batch
        get()
    if is_postgres:
        other = create_engine(committed)
        holder = other.connect()
        holder.execute(text("SELECT count FROM throttle FOR UPDATE"))
    else:
        holder = sqlite3.connect(committed.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    try:
        batch = threading.Thread(target=get)
        batch.start()  # the 16th request writes the batch and waits for the row
        batch.join(1)
        assert batch.is_alive()
        others = [threading.Thread(target=get) for _ in range(8)]  # fewer than the connection pool holds
        for thread in others:
            thread.start()
        for thread in others:
            thread.join(0.2)
        admitted_unwritten = len(statuses) - limits.WRITE_EVERY
    finally:
        holder.rollback() if is_postgres else holder.execute("ROLLBACK")
        holder.close()
        if is_postgres:
            other.dispose()
    for thread in (batch, *others):
        thread.join(30)
    assert admitted_unwritten == 0
    assert statuses == [200] * (limits.WRITE_EVERY + 1 + 8)
    assert _shared_count(application, "1000 per minute") == limits.WRITE_EVERY + 1 + 8
