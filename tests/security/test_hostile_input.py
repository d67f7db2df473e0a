"""Hostile input answers 400/422 naming the parameter or field, never 500, and writes nothing (issue 12 item 10):
huge numbers in filters and cursors, dates at year 9999 and beyond, JSON nested deeply, lone surrogates, non-string
credentials. Runs on SQLite and PostgreSQL (the two fail differently: overflow errors vs out-of-range errors)."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import AuditEvent, Customer
from tests.admin.conftest import login
from tests.api.conftest import Api, make_tenant
from tests.factories import PASSWORD, make_customer, make_user

HUGE = "9999999999999999999999"
LONE = '"\\ud800"'  # a lone surrogate, as JSON text: valid JSON, not encodable as UTF-8


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.fixture()
def tenant(db_session):
    return make_tenant()


@pytest.fixture()
def api(client) -> Api:
    return Api(client)


def _problem(response) -> dict:
    assert response.status_code in (400, 422), (response.status_code, response.get_data(as_text=True)[:300])
    (problem,) = response.json["errors"][:1]
    return problem


def _names(problem: dict, name: str) -> bool:
    source = problem.get("source", {})
    return name in (source.get("parameter", "") + source.get("pointer", "") + problem.get("detail", ""))


@pytest.mark.parametrize(
    "parameter, value",
    [
        ("filter[q][total_orders_count_gt]", HUGE),
        ("filter[q][total_orders_count_in]", f"1,{HUGE}"),
        ("filter[q][created_at_gt]", "9999-12-31T23:59:59-05:00"),
        ("filter[q][created_at_lt]", "10000-01-01T00:00:00Z"),
        ("filter[q][created_at_gteq]", "+275760-09-13"),
        ("page[number]", HUGE),
        ("page[size]", HUGE),
    ],
)
def test_api_filters_with_huge_values_are_400_naming_the_parameter(api, tenant, parameter, value):
    response = api("GET", f"/api/customers?{parameter}={value}", tenant.admin)
    problem = _problem(response)
    assert _names(problem, parameter.split("[")[0]), problem


def test_api_year_9999_in_utc_is_a_valid_date(api, tenant):
    response = api("GET", "/api/customers?filter[q][created_at_lt]=9999-12-31T23:59:59Z", tenant.admin)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body", [_deep(50_000), _deep_object(50_000), '{"data":' + _deep_object(3_000) + "}"]
)
def test_api_deeply_nested_json_is_400(api, tenant, body):
    response = api("POST", "/api/customers", tenant.admin, body)
    problem = _problem(response)
    assert response.status_code == 400 and "nested" in problem["detail"]
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def _customer(attributes: dict) -> str:
    return json.dumps({"data": {"type": "customers", "attributes": attributes}})


@pytest.mark.parametrize(
    "body, field",
    [
        (_customer({"email": "x@example.com", "metadata": json.loads(_deep_object(40))}), "metadata"),
        (_customer({"email": "x@example.com"}).replace('"x@example.com"', LONE), "email"),
        (_customer({"email": "x@example.com", "reference": "r"}).replace('"r"', LONE), "reference"),
        (_customer({"email": "x@example.com", "metadata": {"k": "v"}}).replace('"v"', LONE), "metadata"),
        (_customer({"email": "x@example.com", "metadata": {"k": "v"}}).replace('"k"', LONE), "metadata"),
        (_customer({"email": "x@example.com", "password": "p"}).replace('"p"', LONE), "password"),
        (_customer({"email": 12345}), "email"),
        (_customer({"email": ["x@example.com"]}), "email"),
        (_customer({"email": "x@example.com", "password": 12345678}), "password"),
        (_customer({"email": "x@example.com", "password": {"a": 1}}), "password"),
    ],
)
def test_api_hostile_attributes_are_422_naming_the_field(api, tenant, body, field):
    response = api("POST", "/api/customers", tenant.admin, body)
    problem = _problem(response)
    assert response.status_code == 422 and _names(problem, field), problem
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


@pytest.mark.parametrize(
    "body",
    [
        _deep(50_000),
        '{"grant_type":"password","username":' + LONE + ',"password":"x"}',
        '{"grant_type":"password","username":"a@example.com","password":' + LONE + "}",
        '{"grant_type":"password","username":"a@example.com","password":12345678}',
        '{"grant_type":"password","username":["a@example.com"],"password":"x"}',
        '{"grant_type":"password","username":"a@example.com","password":"x","scope":"market:code:'
        + LONE[1:-1]
        + '"}',
        '{"grant_type":"refresh_token","refresh_token":' + LONE + "}",
        '{"grant_type":"client_credentials","client_secret":' + LONE + "}",
        '{"grant_type":"urn:ietf:params:oauth:grant-type:jwt-bearer","assertion":' + LONE + "}",
    ],
)
def test_token_endpoint_hostile_bodies_are_400(client, tenant, body):
    client_id = tenant.sales_channel.client_id
    body = body.replace('"grant_type":"password"', f'"grant_type":"password","client_id":"{client_id}"')
    response = client.post("/oauth/token", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["errors"][0]["title"] in ("invalid_request", "invalid_grant"), response.json


def test_a_lone_surrogate_client_id_is_400_naming_it(client, tenant):
    body = '{"grant_type":"client_credentials","client_id":' + LONE + "}"
    response = client.post("/oauth/token", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "client_id" in response.json["errors"][0]["detail"]


def test_token_revocation_with_a_lone_surrogate_is_400(client, tenant):
    client_id = tenant.sales_channel.client_id
    body = '{"client_id":"' + client_id + '","token":' + LONE + "}"
    response = client.post("/oauth/revoke", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]


def test_a_lone_surrogate_relationship_id_is_422_naming_the_relationship(api, tenant):
    body = (
        '{"data":{"type":"customers","attributes":{"email":"rel@example.com"},'
        '"relationships":{"customer_group":{"data":{"type":"customer_groups","id":' + LONE + "}}}}}"
    )
    response = api("POST", "/api/customers", tenant.admin, body)
    problem = _problem(response)
    assert response.status_code == 422 and _names(problem, "customer_group"), problem
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


@pytest.fixture()
def as_admin(client, tenant):
    user = make_user(tenant.org, "admin", email="hostile-admin@example.com")
    login(client, user)
    return client


@pytest.mark.parametrize(
    "path, field",
    [
        ("customers?after={cursor}", "after"),
        ("customers?sort=oldest&after={cursor}", "after"),
        ("customers?sort=email&after={email_cursor}", "after"),
        ("customers?created_to=9998-12-31", None),
        ("customers?created_to=9999-12-31", "created_to"),
        ("customers?created_from=9999-12-31", "created_from"),
        ("audit?before=" + HUGE, "before"),
        ("audit?created_to=9999-12-31", "created_to"),
    ],
)
def test_admin_search_and_audit_cursors_never_500(as_admin, tenant, path, field):
    make_customer(tenant.org, password=PASSWORD)
    cursor = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", int(HUGE)]).encode()).decode()
    email_cursor = base64.urlsafe_b64encode(json.dumps([["not", "a string"], 1]).encode()).decode()
    url = f"/admin/{tenant.org.slug}/" + path.format(cursor=cursor, email_cursor=email_cursor)
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = as_admin.get(url)
    if field is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 422 and field in response.text, response.status_code
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
