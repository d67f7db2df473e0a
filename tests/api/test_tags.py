"""Tags in the API: CRUD, customers.tags (relationships, include, triggers, filters), tenancy, events."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent, OutboxMessage
from tests.api.conftest import correlated_subqueries, customer_token
from tests.api.test_resources import doc
from tests.factories import make_customer


def tag(api, token, name, **attributes):
    response = api("POST", "/api/tags", token, doc("tags", {"name": name, **attributes}))
    assert response.status_code == 201, response.json
    return response.json["data"]["id"]


def tags_of(api, token, customer_id):
    response = api("GET", f"/api/customers/{customer_id}/relationships/tags", token)
    assert response.status_code == 200
    return sorted(item["id"] for item in response.json["data"])


def many(*ids):
    return {"data": [{"type": "tags", "id": i} for i in ids]}


def test_tags_crud(api, tenant):
    tag_id = tag(api, tenant.admin, "vip", reference="crm-1", metadata={"colour": "gold"})
    fetched = api("GET", f"/api/tags/{tag_id}", tenant.admin)
    assert fetched.json["data"]["attributes"]["name"] == "vip"
    assert fetched.json["data"]["attributes"]["metadata"] == {"colour": "gold"}
    renamed = api("PATCH", f"/api/tags/{tag_id}", tenant.admin, doc("tags", {"name": "vip_2026"}, id=tag_id))
    assert renamed.status_code == 200 and renamed.json["data"]["attributes"]["name"] == "vip_2026"
    listed = api("GET", "/api/tags?filter[q][name_start]=vip", tenant.admin)
    assert [t["id"] for t in listed.json["data"]] == [tag_id]
    assert api("DELETE", f"/api/tags/{tag_id}", tenant.admin).status_code == 204
    assert api("GET", f"/api/tags/{tag_id}", tenant.admin).status_code == 404


@pytest.mark.parametrize(
    ("name", "code", "detail"),
    [
        ("", "blank", "name - can't be blank"),
        ("VIP", "invalid", "name - may contain only lowercase letters, digits and underscores"),
        ("two words", "invalid", "name - may contain only lowercase letters, digits and underscores"),
        ("emoji_🙂", "invalid", "name - may contain only lowercase letters, digits and underscores"),
        ("a" * 26, "too_long", "name - is too long (maximum is 25 characters)"),
        (42, "invalid", "name - must be a string"),
    ],
)
def test_tag_names_are_checked_precisely(api, tenant, name, code, detail):
    response = api("POST", "/api/tags", tenant.admin, doc("tags", {"name": name}))
    assert response.status_code == 422
    error = response.json["errors"][0]
    assert (error["meta"]["error"], error["detail"], error["source"]["pointer"]) == (
        code,
        detail,
        "/data/attributes/name",
    )


def test_tag_names_are_unique_per_org(api, tenant, other):
    tag(api, tenant.admin, "vip")
    duplicate = api("POST", "/api/tags", tenant.admin, doc("tags", {"name": "vip"}))
    assert duplicate.status_code == 422 and duplicate.json["errors"][0]["meta"]["error"] == "taken"
    tag(api, other.admin, "vip")  # another org may use the same name
    second = tag(api, tenant.admin, "gold")
    clash = api("PATCH", f"/api/tags/{second}", tenant.admin, doc("tags", {"name": "vip"}, id=second))
    assert clash.status_code == 422


def test_tags_are_for_integrations_only(api, tenant):
    customer = make_customer(tenant.org)
    shopper = customer_token(tenant, customer)
    assert api("GET", "/api/tags", tenant.guest).status_code == 401
    assert api("GET", "/api/tags", shopper).status_code == 401
    assert api("POST", "/api/tags", tenant.read_only, doc("tags", {"name": "x"})).status_code == 401
    assert api("GET", "/api/tags", tenant.read_only).status_code == 200


def test_customer_tags_through_relationships_on_create_and_update(api, tenant):
    vip, gold = tag(api, tenant.admin, "vip"), tag(api, tenant.admin, "gold")
    created = api(
        "POST",
        "/api/customers",
        tenant.admin,
        doc("customers", {"email": "tagged@example.com"}, {"tags": many(vip)}),
    )
    assert created.status_code == 201, created.json
    customer_id = created.json["data"]["id"]
    assert tags_of(api, tenant.admin, customer_id) == [vip]
    replaced = api(
        "PATCH",
        f"/api/customers/{customer_id}",
        tenant.admin,
        doc("customers", {}, {"tags": many(gold)}, id=customer_id),
    )
    assert replaced.status_code == 200
    assert tags_of(api, tenant.admin, customer_id) == [gold]
    cleared = api(
        "PATCH",
        f"/api/customers/{customer_id}",
        tenant.admin,
        doc("customers", {}, {"tags": many()}, id=customer_id),
    )
    assert cleared.status_code == 200 and tags_of(api, tenant.admin, customer_id) == []


def test_add_and_remove_tags_triggers_follow_commerce_layer(api, tenant):
    vip, gold, _ = (
        tag(api, tenant.admin, "vip"),
        tag(api, tenant.admin, "gold"),
        tag(api, tenant.admin, "new"),
    )
    customer = make_customer(tenant.org)
    path = f"/api/customers/{customer.public_id}"
    # names or ids, duplicates, unknown and invalid entries discarded (no tag is created)
    added = api(
        "PATCH",
        path,
        tenant.admin,
        doc("customers", {"_add_tags": f"vip,{gold},vip,unknown,NOT VALID,,"}, id=customer.public_id),
    )
    assert added.status_code == 200, added.json
    assert "_add_tags" not in added.json["data"]["attributes"]
    assert tags_of(api, tenant.admin, customer.public_id) == sorted([vip, gold])
    assert api("GET", "/api/tags?filter[q][name_eq]=unknown", tenant.admin).json["data"] == []
    removed = api(
        "PATCH", path, tenant.admin, doc("customers", {"_remove_tags": "vip,unknown"}, id=customer.public_id)
    )
    assert removed.status_code == 200 and tags_of(api, tenant.admin, customer.public_id) == [gold]
    bad = api("PATCH", path, tenant.admin, doc("customers", {"_add_tags": ["vip"]}, id=customer.public_id))
    assert (
        bad.status_code == 422 and bad.json["errors"][0]["source"]["pointer"] == "/data/attributes/_add_tags"
    )


def test_tag_changes_are_audited_and_emit_customers_tagged(api, tenant):
    tag(api, tenant.admin, "vip")
    customer = make_customer(tenant.org)
    path = f"/api/customers/{customer.public_id}"
    for _ in range(2):  # the second call changes nothing: no event
        api("PATCH", path, tenant.admin, doc("customers", {"_add_tags": "vip"}, id=customer.public_id))
    events = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.topic == "customers.tagged", OutboxMessage.customer_id == customer.id
        )
    ).all()
    assert [(e.kind, e.payload["id"]) for e in events] == [("event", customer.public_id)]
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.tags_change")).all()
    assert len(audit) == 1 and audit[0].changed_fields == ["tags"]


def test_include_tags_and_related_endpoint(api, tenant):
    vip = tag(api, tenant.admin, "vip")
    customer = make_customer(tenant.org)
    api(
        "PATCH",
        f"/api/customers/{customer.public_id}",
        tenant.admin,
        doc("customers", {"_add_tags": "vip"}, id=customer.public_id),
    )
    response = api("GET", f"/api/customers/{customer.public_id}?include=tags", tenant.admin)
    assert response.json["data"]["relationships"]["tags"]["data"] == [{"type": "tags", "id": vip}]
    assert [(i["type"], i["attributes"]["name"]) for i in response.json["included"]] == [("tags", "vip")]
    related = api("GET", f"/api/customers/{customer.public_id}/tags", tenant.admin)
    assert [t["attributes"]["name"] for t in related.json["data"]] == ["vip"]


def test_tag_filters_on_customers(api, tenant):
    vip, gold = tag(api, tenant.admin, "vip"), tag(api, tenant.admin, "gold")
    a, b, c = (make_customer(tenant.org, f"{n}@example.com") for n in "abc")
    for customer, names in ((a, "vip"), (b, "vip,gold"), (c, "")):
        if names:
            api(
                "PATCH",
                f"/api/customers/{customer.public_id}",
                tenant.admin,
                doc("customers", {"_add_tags": names}, id=customer.public_id),
            )

    def emails(query):
        response = api("GET", f"/api/customers?sort=email&{query}", tenant.admin)
        assert response.status_code == 200, response.json
        return [row["attributes"]["email"] for row in response.json["data"]]

    assert emails("filter[q][tags_name_eq]=vip") == ["a@example.com", "b@example.com"]
    assert emails("filter[q][tags_name_in]=gold,nothing") == ["b@example.com"]
    assert emails(f"filter[q][tags_id_in]={gold},{vip}") == ["a@example.com", "b@example.com"]
    assert emails(f"filter[q][tags_id_eq]={gold}") == ["b@example.com"]
    assert emails("filter[q][tags_name_eq]=nothing") == []
    assert api("GET", "/api/customers?filter[q][tags_name_jcont]={}", tenant.admin).status_code == 400


def test_another_orgs_tag_is_refused_and_invisible(api, tenant, other):
    theirs = tag(api, other.admin, "vip")
    customer = make_customer(tenant.org)
    path = f"/api/customers/{customer.public_id}"
    assert api("GET", f"/api/tags/{theirs}", tenant.admin).status_code == 404
    assert (
        api("PATCH", f"/api/tags/{theirs}", tenant.admin, doc("tags", {"name": "x"}, id=theirs)).status_code
        == 404
    )
    assert api("DELETE", f"/api/tags/{theirs}", tenant.admin).status_code == 404
    refused = api(
        "PATCH", path, tenant.admin, doc("customers", {}, {"tags": many(theirs)}, id=customer.public_id)
    )
    assert refused.status_code == 422
    assert refused.json["errors"][0]["source"]["pointer"] == "/data/relationships/tags"
    # by id or by name through the trigger: discarded, never attached
    api("PATCH", path, tenant.admin, doc("customers", {"_add_tags": f"{theirs},vip"}, id=customer.public_id))
    assert tags_of(api, tenant.admin, customer.public_id) == []
    assert api("GET", f"/api/customers?filter[q][tags_id_eq]={theirs}", tenant.admin).json["data"] == []


def test_sales_channels_cannot_pass_tags(api, tenant):
    vip = tag(api, tenant.admin, "vip")
    customer = make_customer(tenant.org)
    shopper = customer_token(tenant, customer)
    path = f"/api/customers/{customer.public_id}"
    trigger = api("PATCH", path, shopper, doc("customers", {"_add_tags": "vip"}, id=customer.public_id))
    assert trigger.status_code == 400 and trigger.json["errors"][0]["code"] == "PARAM_NOT_ALLOWED"
    linkage = api("PATCH", path, shopper, doc("customers", {}, {"tags": many(vip)}, id=customer.public_id))
    assert linkage.status_code == 400
    signup = api(
        "POST",
        "/api/customers",
        tenant.guest,
        doc("customers", {"email": "new@example.com"}, {"tags": many(vip)}),
    )
    assert signup.status_code == 400
    assert tags_of(api, tenant.admin, customer.public_id) == []
    # a customer token sees no tag (merchant labels are internal)
    assert api("GET", f"{path}?include=tags", shopper).json["data"]["relationships"]["tags"]["data"] == []


@pytest.mark.parametrize(
    "linkage",
    [
        {"data": [{"type": "tags"}]},
        {"data": [{"id": "x"}]},
        {"data": ["x"]},
        {"data": [{"type": "tags", "id": 1}]},
    ],
)
def test_malformed_to_many_linkage_is_a_400(api, tenant, linkage):
    customer = make_customer(tenant.org)
    response = api(
        "PATCH",
        f"/api/customers/{customer.public_id}",
        tenant.admin,
        doc("customers", {}, {"tags": linkage}, id=customer.public_id),
    )
    assert (
        response.status_code == 400
        and response.json["errors"][0]["source"]["pointer"] == "/data/relationships/tags"
    )


def test_a_linkage_of_the_wrong_type_is_refused(api, tenant):
    customer = make_customer(tenant.org)
    response = api(
        "PATCH",
        f"/api/customers/{customer.public_id}",
        tenant.admin,
        doc(
            "customers",
            {},
            {"tags": {"data": [{"type": "customer_groups", "id": "x"}]}},
            id=customer.public_id,
        ),
    )
    assert response.status_code == 422 and "not a tag" in response.json["errors"][0]["detail"]


def test_huge_tag_lists_are_refused_before_any_query(api, tenant):
    """A 1 MB body holds ~40,000 names or ~25,000 identifiers: past PostgreSQL's 65,535 bound parameters (a 5xx)
    and one lookup each (seconds). Both lists are bounded; the answer is a 4xx naming the field."""
    vip = tag(api, tenant.admin, "vip")
    customer = make_customer(tenant.org)
    path = f"/api/customers/{customer.public_id}"
    names = ",".join(f"t{i}" for i in range(40_000))
    for trigger in ("_add_tags", "_remove_tags"):
        refused = api("PATCH", path, tenant.admin, doc("customers", {trigger: names}, id=customer.public_id))
        assert refused.status_code == 422, refused.status_code
        assert refused.json["errors"][0]["source"]["pointer"] == f"/data/attributes/{trigger}"
    body = doc("customers", {}, id=customer.public_id)
    body["data"]["relationships"] = {"tags": {"data": [{"type": "tags", "id": vip}] * 20_000}}
    refused = api("PATCH", path, tenant.admin, body)
    assert (
        refused.status_code == 400
        and refused.json["errors"][0]["source"]["pointer"] == "/data/relationships/tags"
    )
    at_the_bound = ",".join([*(f"t{i}" for i in range(99)), "vip"])
    added = api(
        "PATCH", path, tenant.admin, doc("customers", {"_add_tags": at_the_bound}, id=customer.public_id)
    )
    assert added.status_code == 200 and tags_of(api, tenant.admin, customer.public_id) == [vip]


@pytest.mark.sqlite_only
def test_tag_filters_read_the_tags_once(app, api, tenant):
    """`tags_name_cont_any` with 100 values: one correlated EXISTS per value and customer took 15 s at 50,000
    customers on SQLite; each value is now one uncorrelated IN, read once (the plan is checked, not a time)."""
    tag(api, tenant.admin, "vip")
    values = ",".join(f"v{i}" for i in range(100))
    path = f"/api/customers?filter[q][tags_name_cont_any]={values}"
    response, correlated = correlated_subqueries(app, lambda: api("GET", path, tenant.admin))
    assert response.status_code == 200 and response.json["meta"]["record_count"] == 0
    assert correlated == []
