"""customer_subscriptions, attachments, event_stores, jwt_* relationships and password-reset references."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.models import Attachment, OutboxMessage
from tests.api.conftest import customer_token
from tests.api.test_resources import doc, ref
from tests.factories import make_customer


def subscribe(api, token, email, reference="newsletter", **attributes):
    return api(
        "POST",
        "/api/customer_subscriptions",
        token,
        doc("customer_subscriptions", {"customer_email": email, "reference": reference, **attributes}),
    )


def test_customer_subscriptions_crud_and_event(api, tenant):
    customer = make_customer(tenant.org, "news@example.com")
    created = subscribe(
        api, tenant.admin, "NEWS@example.com", reference_origin="crm", metadata={"list": "weekly"}
    )
    assert created.status_code == 201, created.json
    body = created.json["data"]
    assert body["attributes"]["customer_email"] == "news@example.com"
    assert body["attributes"]["reference"] == "newsletter"
    assert body["attributes"]["metadata"] == {"list": "weekly"}
    sub_id = body["id"]
    related = api("GET", f"/api/customers/{customer.public_id}/customer_subscriptions", tenant.admin)
    assert [s["id"] for s in related.json["data"]] == [sub_id]
    included = api("GET", f"/api/customer_subscriptions/{sub_id}?include=customer", tenant.admin)
    assert included.json["included"][0]["id"] == customer.public_id
    topics = db.session.scalars(
        select(OutboxMessage.topic).where(OutboxMessage.customer_id == customer.id)
    ).all()
    assert "customer_subscriptions.create" in topics
    updated = api(
        "PATCH",
        f"/api/customer_subscriptions/{sub_id}",
        tenant.admin,
        doc("customer_subscriptions", {"reference": "offers"}, id=sub_id),
    )
    assert updated.status_code == 200 and updated.json["data"]["attributes"]["reference"] == "offers"
    not_updatable = api(
        "PATCH",
        f"/api/customer_subscriptions/{sub_id}",
        tenant.admin,
        doc("customer_subscriptions", {"customer_email": "x@example.com"}, id=sub_id),
    )
    assert not_updatable.status_code == 400
    assert api("DELETE", f"/api/customer_subscriptions/{sub_id}", tenant.admin).status_code == 204
    topics = db.session.scalars(
        select(OutboxMessage.topic).where(OutboxMessage.customer_id == customer.id)
    ).all()
    assert "customer_subscriptions.destroy" in topics


@pytest.mark.parametrize(
    ("attributes", "pointer", "code"),
    [
        ({"reference": "newsletter"}, "customer_email", "blank"),
        ({"customer_email": "nobody@example.com", "reference": "newsletter"}, "customer_email", "invalid"),
        ({"customer_email": "not an email", "reference": "newsletter"}, "customer_email", "invalid"),
        ({"customer_email": "sub@example.com"}, "reference", "blank"),
        ({"customer_email": "sub@example.com", "reference": ""}, "reference", "blank"),
        ({"customer_email": "sub@example.com", "reference": "r", "metadata": []}, "metadata", "invalid"),
    ],
)
def test_subscription_errors_are_precise(api, tenant, attributes, pointer, code):
    make_customer(tenant.org, "sub@example.com")
    response = api(
        "POST", "/api/customer_subscriptions", tenant.admin, doc("customer_subscriptions", attributes)
    )
    assert response.status_code == 422
    error = response.json["errors"][0]
    assert (error["source"]["pointer"], error["meta"]["error"]) == (f"/data/attributes/{pointer}", code)


def test_a_reference_is_subscribed_once(api, tenant):
    make_customer(tenant.org, "once@example.com")
    assert subscribe(api, tenant.admin, "once@example.com").status_code == 201
    again = subscribe(api, tenant.admin, "once@example.com")
    assert again.status_code == 422 and again.json["errors"][0]["meta"]["error"] == "taken"


def test_subscriptions_tenancy_and_customer_tokens(api, tenant, other):
    mine = make_customer(tenant.org, "mine@example.com")
    make_customer(tenant.org, "someone@example.com")
    make_customer(other.org, "theirs@example.com")
    # another org's customer is not found by email
    assert subscribe(api, tenant.admin, "theirs@example.com").status_code == 422
    theirs = subscribe(api, other.admin, "theirs@example.com").json["data"]["id"]
    assert api("GET", f"/api/customer_subscriptions/{theirs}", tenant.admin).status_code == 404
    assert api("DELETE", f"/api/customer_subscriptions/{theirs}", tenant.admin).status_code == 404
    shopper = customer_token(tenant, mine)
    own = subscribe(api, shopper, "mine@example.com")
    assert own.status_code == 201
    assert subscribe(api, shopper, "someone@example.com").status_code == 422
    assert [s["id"] for s in api("GET", "/api/customer_subscriptions", shopper).json["data"]] == [
        own.json["data"]["id"]
    ]
    someone = subscribe(api, tenant.admin, "someone@example.com").json["data"]["id"]
    assert api("GET", f"/api/customer_subscriptions/{someone}", shopper).status_code == 404
    assert api("DELETE", f"/api/customer_subscriptions/{own.json['data']['id']}", shopper).status_code == 204
    assert api("GET", "/api/customer_subscriptions", tenant.guest).status_code == 401


def attach(api, token, customer_id, **attributes):
    return api(
        "POST",
        "/api/attachments",
        token,
        doc(
            "attachments",
            {"name": "Note", **attributes},
            {"attachable": ref("customers", customer_id)},
        ),
    )


def test_attachments_on_customers(api, tenant):
    customer = make_customer(tenant.org)
    created = attach(
        api,
        tenant.admin,
        customer.public_id,
        description="Called about <b>the order</b>",
        url="https://docs.example.com/contract.pdf",
    )
    assert created.status_code == 201, created.json
    attachment_id = created.json["data"]["id"]
    assert created.json["data"]["attributes"]["description"] == "Called about <b>the order</b>"
    listed = api("GET", f"/api/customers/{customer.public_id}/attachments", tenant.admin)
    assert [a["id"] for a in listed.json["data"]] == [attachment_id]
    fetched = api("GET", f"/api/attachments/{attachment_id}?include=attachable", tenant.admin)
    assert fetched.json["data"]["relationships"]["attachable"]["data"] == {
        "type": "customers",
        "id": customer.public_id,
    }
    included = api("GET", f"/api/customers/{customer.public_id}?include=attachments", tenant.admin)
    assert included.json["included"][0]["attributes"]["name"] == "Note"
    patched = api(
        "PATCH",
        f"/api/attachments/{attachment_id}",
        tenant.admin,
        doc("attachments", {"name": "Renamed"}, id=attachment_id),
    )
    assert patched.status_code == 200 and patched.json["data"]["attributes"]["name"] == "Renamed"
    assert api("DELETE", f"/api/attachments/{attachment_id}", tenant.admin).status_code == 204


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "/relative",
        "ftp://example.com/x",
        "https://",
        "http://a b.com",
    ],
)
def test_attachment_urls_are_http_only(api, tenant, url):
    customer = make_customer(tenant.org)
    response = attach(api, tenant.admin, customer.public_id, url=url)
    assert response.status_code == 422
    assert response.json["errors"][0]["source"]["pointer"] == "/data/attributes/url"


def test_attachable_must_be_a_customer_of_the_org(api, tenant, other):
    theirs = make_customer(other.org)
    refused = attach(api, tenant.admin, theirs.public_id)
    assert refused.status_code == 422
    assert refused.json["errors"][0]["source"]["pointer"] == "/data/relationships/attachable"
    wrong_type = api(
        "POST",
        "/api/attachments",
        tenant.admin,
        doc("attachments", {"name": "x"}, {"attachable": ref("orders", "abc")}),
    )
    assert wrong_type.status_code == 422
    assert "must be a customer (orders cannot carry attachments)" in wrong_type.json["errors"][0]["detail"]
    missing = api("POST", "/api/attachments", tenant.admin, doc("attachments", {"name": "x"}))
    assert missing.status_code == 422 and missing.json["errors"][0]["meta"]["error"] == "blank"
    attachment_id = attach(api, other.admin, theirs.public_id).json["data"]["id"]
    assert api("GET", f"/api/attachments/{attachment_id}", tenant.admin).status_code == 404
    assert db.session.scalar(select(Attachment).where(Attachment.attachable_id == theirs.id)) is not None


def test_attachments_are_integration_only(api, tenant):
    customer = make_customer(tenant.org)
    shopper = customer_token(tenant, customer)
    assert attach(api, shopper, customer.public_id).status_code == 401
    assert attach(api, tenant.read_only, customer.public_id).status_code == 401


def test_event_stores_expose_the_customer_audit_trail(api, tenant):
    created = api("POST", "/api/customers", tenant.admin, doc("customers", {"email": "trail@example.com"}))
    customer_id = created.json["data"]["id"]
    api(
        "PATCH",
        f"/api/customers/{customer_id}",
        tenant.admin,
        doc("customers", {"reference": "r-1"}, id=customer_id),
    )
    events = api("GET", f"/api/customers/{customer_id}/event_stores?sort=created_at", tenant.admin)
    assert events.status_code == 200
    rows = [e["attributes"] for e in events.json["data"]]
    assert [(r["resource_type"], r["resource_id"], r["event"]) for r in rows] == [
        ("customers", customer_id, "create"),
        ("customers", customer_id, "update"),
    ]
    assert rows[1]["payload"] == {"changed_fields": ["reference"]}
    assert rows[1]["who"] == {"application": {"id": tenant.integration.public_id}}
    one = api("GET", f"/api/event_stores/{events.json['data'][0]['id']}", tenant.admin)
    assert one.status_code == 200
    listed = api("GET", f"/api/event_stores?filter[q][resource_id_eq]={customer_id}", tenant.admin)
    assert len(listed.json["data"]) == 2
    assert (
        api("GET", "/api/event_stores", customer_token(tenant, make_customer(tenant.org))).status_code == 401
    )
    include = api("GET", f"/api/customers/{customer_id}?include=event_stores", tenant.admin)
    assert (
        include.status_code == 200
    )  # every registry relationship is includable (Commerce Layer: not this one)


def test_event_stores_of_another_org_are_not_found(api, tenant, other):
    created = api("POST", "/api/customers", other.admin, doc("customers", {"email": "x@example.com"}))
    customer_id = created.json["data"]["id"]
    theirs = api("GET", f"/api/customers/{customer_id}/event_stores", other.admin).json["data"][0]["id"]
    assert api("GET", f"/api/event_stores/{theirs}", tenant.admin).status_code == 404
    assert api("GET", f"/api/customers/{customer_id}/event_stores", tenant.admin).status_code == 404


def test_jwt_customer_and_jwt_markets(api, tenant):
    customer = make_customer(tenant.org)
    shopper = customer_token(tenant, customer)
    me = api("GET", f"/api/customers/{customer.public_id}/jwt_customer", shopper)
    assert me.json["data"]["id"] == customer.public_id
    link = api("GET", f"/api/customers/{customer.public_id}/relationships/jwt_customer", shopper)
    assert link.json["data"] == {"type": "customers", "id": customer.public_id}
    integration = api("GET", f"/api/customers/{customer.public_id}/jwt_customer", tenant.admin)
    assert integration.json["data"] is None
    markets = api("GET", f"/api/customers/{customer.public_id}/jwt_markets", tenant.admin)
    assert markets.status_code == 200


def test_password_resets_keep_references_and_filter_by_customer(api, tenant):
    customer = make_customer(tenant.org, "reset@example.com")
    someone = make_customer(tenant.org, "else@example.com")
    created = api(
        "POST",
        "/api/customer_password_resets",
        tenant.admin,
        doc(
            "customer_password_resets",
            {
                "customer_email": "reset@example.com",
                "reference": "ticket-9",
                "reference_origin": "helpdesk",
                "metadata": {"agent": 7},
            },
        ),
    )
    assert created.status_code == 201, created.json
    attributes = created.json["data"]["attributes"]
    assert (attributes["reference"], attributes["reference_origin"], attributes["metadata"]) == (
        "ticket-9",
        "helpdesk",
        {"agent": 7},
    )
    reset_id = created.json["data"]["id"]
    api(
        "POST",
        "/api/customer_password_resets",
        tenant.admin,
        doc("customer_password_resets", {"customer_email": "else@example.com"}),
    )
    mine = api(
        "GET", f"/api/customer_password_resets?filter[q][customer_id_eq]={customer.public_id}", tenant.admin
    )
    assert [r["id"] for r in mine.json["data"]] == [reset_id]
    theirs = api(
        "GET", f"/api/customer_password_resets?filter[q][customer_id_eq]={someone.public_id}", tenant.admin
    )
    assert len(theirs.json["data"]) == 1 and theirs.json["data"][0]["id"] != reset_id
    patched = api(
        "PATCH",
        f"/api/customer_password_resets/{reset_id}",
        tenant.admin,
        doc("customer_password_resets", {"reference": "ticket-10"}, id=reset_id),
    )
    assert patched.status_code == 200 and patched.json["data"]["attributes"]["reference"] == "ticket-10"
    bad = api(
        "POST",
        "/api/customer_password_resets",
        tenant.admin,
        doc("customer_password_resets", {"customer_email": "reset@example.com", "metadata": "x"}),
    )
    assert (
        bad.status_code == 422 and bad.json["errors"][0]["source"]["pointer"] == "/data/attributes/metadata"
    )
