"""API fixtures: an organization with each kind of token, and a JSON:API client helper."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tests.factories import (
    PASSWORD,
    make_application,
    make_customer,
    make_group,
    make_org,
    make_user,
    token_for,
)

MEDIA = "application/vnd.api+json"


@dataclass
class Api:
    client: object

    def __call__(self, method: str, path: str, token: str | None = None, body: object = None, **headers):
        headers = {"Accept": MEDIA, **headers}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = body if isinstance(body, str | bytes) else json.dumps(body)
            headers.setdefault("Content-Type", MEDIA)
        return self.client.open(path, method=method, data=data, headers=headers)


@pytest.fixture()
def api(client) -> Api:
    return Api(client)


@dataclass
class Tenant:
    org: object
    admin: str  # integration token, role admin
    read_only: str  # integration token, role read_only
    guest: str  # sales channel, no owner
    owner_admin: str  # integration token owned by an admin user (JWT bearer flow)
    owner_viewer: str  # integration token owned by a read-only user
    sales_channel: object
    integration: object
    admin_user: object


def make_tenant() -> Tenant:
    org = make_org()
    integration, _ = make_application(org, "integration", "admin")
    read_only, _ = make_application(org, "integration", "read_only")
    sales_channel, _ = make_application(org, "sales_channel")
    admin_user = make_user(org, "admin")
    viewer = make_user(org, "read_only")
    return Tenant(
        org=org,
        admin=token_for(integration),
        read_only=token_for(read_only),
        guest=token_for(sales_channel),
        owner_admin=token_for(integration, admin_user),
        owner_viewer=token_for(integration, viewer),
        sales_channel=sales_channel,
        integration=integration,
        admin_user=admin_user,
    )


@pytest.fixture()
def tenant(db_session) -> Tenant:
    return make_tenant()


@pytest.fixture()
def other(db_session) -> Tenant:
    return make_tenant()


def customer_token(tenant: Tenant, customer) -> str:
    return token_for(tenant.sales_channel, customer)


__all__ = ["PASSWORD", "make_customer", "make_group", "customer_token"]


def correlated_subqueries(app, call):
    """Run `call` (an API request); return its response and the lines of SQLite's query plans, for the SELECTs it ran,
    that evaluate a subquery once per outer row (`CORRELATED ...`): at scale, a scan per customer."""
    from sqlalchemy import event

    from portal import db

    bind = app.extensions.get("db_bind") or app.extensions["db_engine"]
    engine = getattr(bind, "engine", bind)
    statements = []

    def grab(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        response = call()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    connection = db.session.connection()
    plans = [
        connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all() for sql, params in statements
    ]
    return response, [row[-1] for plan in plans for row in plan if "CORRELATED" in row[-1]]
