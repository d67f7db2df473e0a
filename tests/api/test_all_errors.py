"""A create or update with several bad fields answers every error at once (issue 15 item 7): one JSON:API error
object per field, each with its source.pointer, and nothing written."""

from __future__ import annotations

from sqlalchemy import func, select

from portal import db
from portal.models import Address, Customer, CustomerGroup
from tests.factories import make_customer


def doc(type, attributes, id=None):
    return {"data": {"type": type, "attributes": attributes, **({"id": id} if id else {})}}


def pointers(response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.json
    return sorted((e["source"]["pointer"], e["meta"]["error"]) for e in response.json["errors"])


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_customer_create_with_three_bad_fields(api, tenant):
    before = count(Customer)
    response = api(
        "POST",
        "/api/customers",
        tenant.admin,
        doc("customers", {"email": "not an email", "shopper_reference": "ab", "metadata": [1]}),
    )
    assert pointers(response) == [
        ("/data/attributes/email", "invalid"),
        ("/data/attributes/metadata", "invalid"),
        ("/data/attributes/shopper_reference", "too_short"),
    ]
    assert all(e["code"] == "VALIDATION_ERROR" and e["status"] == "422" for e in response.json["errors"])
    assert count(Customer) == before


def test_customer_create_missing_email_and_weak_password(api, tenant):
    response = api(
        "POST", "/api/customers", tenant.admin, doc("customers", {"password": "x", "reference": 5})
    )
    assert [p for p, _ in pointers(response)] == [
        "/data/attributes/email",
        "/data/attributes/password",
        "/data/attributes/reference",
    ]


def test_customer_update_with_three_bad_fields(api, tenant):
    customer = make_customer(tenant.org, "keep@example.com")
    response = api(
        "PATCH",
        f"/api/customers/{customer.public_id}",
        tenant.admin,
        doc(
            "customers",
            {"email": "", "profile_id": "x" * 1000, "password": "short"},
            id=customer.public_id,
        ),
    )
    assert [p for p, _ in pointers(response)] == [
        "/data/attributes/email",
        "/data/attributes/password",
        "/data/attributes/profile_id",
    ]
    db.session.refresh(customer)
    assert customer.email == "keep@example.com" and not customer.has_password


def test_address_create_lists_every_missing_and_bad_field(api, tenant):
    response = api(
        "POST",
        "/api/addresses",
        tenant.admin,
        doc("addresses", {"first_name": "Ada", "country_code": "GBR", "lat": 200, "business": "yes"}),
    )
    assert pointers(response) == [
        ("/data/attributes/business", "invalid"),
        ("/data/attributes/city", "blank"),
        ("/data/attributes/country_code", "too_long"),
        ("/data/attributes/last_name", "blank"),
        ("/data/attributes/lat", "invalid"),
        ("/data/attributes/line_1", "blank"),
        ("/data/attributes/phone", "blank"),
    ]
    assert count(Address) == 0


def test_group_create_with_three_bad_fields(api, tenant):
    response = api(
        "POST",
        "/api/customer_groups",
        tenant.admin,
        doc("customer_groups", {"name": "", "code": "has space", "metadata": "nope"}),
    )
    assert [p for p, _ in pointers(response)] == [
        "/data/attributes/code",
        "/data/attributes/metadata",
        "/data/attributes/name",
    ]
    assert count(CustomerGroup) == 0


def test_a_single_bad_field_is_still_one_error(api, tenant):
    response = api("POST", "/api/customer_groups", tenant.admin, doc("customer_groups", {"name": "x" * 300}))
    assert pointers(response) == [("/data/attributes/name", "too_long")]
