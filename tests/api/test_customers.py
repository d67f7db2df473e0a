"""/api/customers: CRUD, attribute rules, query conventions, errors and permissions."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import Customer
from tests.api.conftest import customer_token
from tests.factories import (
    PASSWORD,
    make_application,
    make_customer,
    make_group,
    make_order,
    make_user,
    token_for,
)

MEDIA = "application/vnd.api+json"


def body(attributes=None, relationships=None, id=None, type="customers"):
    data = {"type": type, "attributes": attributes or {}}
    if relationships is not None:
        data["relationships"] = relationships
    if id is not None:
        data["id"] = id
    return {"data": data}


def customers_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Customer))


def test_create_returns_commerce_layer_shape(api, tenant):
    response = api(
        "POST",
        "/api/customers",
        tenant.admin,
        body({"email": "New@Example.com", "password": PASSWORD, "metadata": {"tier": "gold"}}),
    )
    assert response.status_code == 201, response.json
    assert response.content_type == MEDIA
    data = response.json["data"]
    assert data["type"] == "customers" and len(data["id"]) == 10
    attributes = data["attributes"]
    assert attributes["email"] == "new@example.com"
    assert attributes["status"] == "prospect" and attributes["has_password"] is True
    assert attributes["total_orders_count"] == 0 and attributes["metadata"] == {"tier": "gold"}
    assert 3 <= len(attributes["shopper_reference"]) <= 128 and attributes["profile_id"]
    assert attributes["anonymization_status"] is None and attributes["anonymization_info"] is None
    assert "password" not in attributes
    assert attributes["created_at"].endswith("Z") and "." in attributes["created_at"]
    assert data["links"]["self"].endswith(f"/api/customers/{data['id']}")
    links = data["relationships"]["customer_group"]["links"]
    assert links["self"].endswith(f"/api/customers/{data['id']}/relationships/customer_group")
    assert links["related"].endswith(f"/api/customers/{data['id']}/customer_group")
    assert set(data["relationships"]) == {
        "customer_group",
        "customer_addresses",
        "orders",
        "customer_subscriptions",
        "attachments",
        "tags",
        "event_stores",
        "jwt_customer",
        "jwt_markets",
    }


def test_create_with_group_relationship(api, tenant):
    group = make_group(tenant.org)
    rel = {"customer_group": {"data": {"type": "customer_groups", "id": group.public_id}}}
    response = api(
        "POST", "/api/customers?include=customer_group", tenant.admin, body({"email": "vip@example.com"}, rel)
    )
    assert response.status_code == 201
    assert response.json["data"]["relationships"]["customer_group"]["data"] == {
        "type": "customer_groups",
        "id": group.public_id,
    }
    assert response.json["included"][0]["attributes"]["name"] == group.name


@pytest.mark.parametrize(
    "attributes, status, code, pointer, meta_error",
    [
        ({"email": ""}, 422, "VALIDATION_ERROR", "/data/attributes/email", "blank"),
        ({}, 422, "VALIDATION_ERROR", "/data/attributes/email", "blank"),
        ({"email": "nope"}, 422, "VALIDATION_ERROR", "/data/attributes/email", "invalid"),
        ({"email": 12}, 422, "VALIDATION_ERROR", "/data/attributes/email", "invalid"),
        (
            {"email": "a@example.com", "shopper_reference": "ab"},
            422,
            "VALIDATION_ERROR",
            "/data/attributes/shopper_reference",
            "too_short",
        ),
        (
            {"email": "a@example.com", "password": "short"},
            422,
            "VALIDATION_ERROR",
            "/data/attributes/password",
            "too_short",
        ),
        (
            {"email": "a@example.com", "metadata": "x"},
            422,
            "VALIDATION_ERROR",
            "/data/attributes/metadata",
            "invalid",
        ),
        (
            {"email": "a@example.com", "status": "repeat"},
            400,
            "PARAM_NOT_ALLOWED",
            "/data/attributes/status",
            None,
        ),
        (
            {"email": "a@example.com", "has_password": True},
            400,
            "PARAM_NOT_ALLOWED",
            "/data/attributes/has_password",
            None,
        ),
        (
            {"email": "a@example.com", "is_admin": True},
            400,
            "PARAM_NOT_ALLOWED",
            "/data/attributes/is_admin",
            None,
        ),
        (
            {"email": "a@example.com", "_request_anonymization": True},
            400,
            "PARAM_NOT_ALLOWED",
            "/data/attributes/_request_anonymization",
            None,
        ),
        (
            {"email": "a@example.com", "reference": "x" * 300},
            422,
            "VALIDATION_ERROR",
            "/data/attributes/reference",
            "too_long",
        ),
    ],
)
def test_create_refuses_bad_attributes_and_writes_nothing(
    api, tenant, attributes, status, code, pointer, meta_error
):
    before = customers_count()
    response = api("POST", "/api/customers", tenant.admin, body(attributes))
    assert response.status_code == status, response.json
    error = response.json["errors"][0]
    assert error["code"] == code and error["status"] == str(status)
    assert error["source"]["pointer"] == pointer
    if meta_error:
        assert error["meta"]["error"] == meta_error
    assert customers_count() == before


def test_duplicate_email_is_taken(api, tenant):
    make_customer(tenant.org, "dup@example.com")
    response = api("POST", "/api/customers", tenant.admin, body({"email": "DUP@example.com"}))
    assert response.status_code == 422
    error = response.json["errors"][0]
    assert (error["title"], error["meta"]["error"]) == ("has already been taken", "taken")
    assert error["detail"] == "email - has already been taken"


@pytest.mark.parametrize(
    "payload, code",
    [
        ("{not json", "INVALID_DATA_FORMAT"),
        ("[]", "INVALID_DATA_FORMAT"),
        ({"data": []}, "INVALID_DATA_FORMAT"),
        ({"data": {"type": "orders", "attributes": {"email": "a@example.com"}}}, "INVALID_RESOURCE"),
        ({"data": {"type": "customers", "attributes": []}}, "INVALID_DATA_FORMAT"),
        (
            {"data": {"type": "customers", "attributes": {}, "relationships": {"customer_group": "x"}}},
            "INVALID_DATA_FORMAT",
        ),
        ({"data": {"type": "customers", "attributes": {}, "surprise": 1}}, "PARAM_NOT_ALLOWED"),
    ],
)
def test_malformed_documents_are_400(api, tenant, payload, code):
    response = api("POST", "/api/customers", tenant.admin, payload)
    assert response.status_code == 400
    assert response.json["errors"][0]["code"] == code
    assert customers_count() == 0


def test_wrong_headers(api, tenant):
    assert api("GET", "/api/customers", tenant.admin, Accept="text/html").status_code == 406
    response = api("POST", "/api/customers", tenant.admin, "email=x", **{"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json["errors"][0]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_pagination(api, tenant):
    for n in range(27):
        make_customer(tenant.org, f"p{n:02d}@example.com")
    first = api("GET", "/api/customers?sort=email", tenant.admin).json
    assert len(first["data"]) == 10
    assert first["meta"] == {"record_count": 27, "page_count": 3}
    assert set(first["links"]) == {"first", "next", "last"}
    last = api("GET", "/api/customers?sort=email&page[number]=2&page[size]=25", tenant.admin).json
    assert [c["attributes"]["email"] for c in last["data"]] == ["p25@example.com", "p26@example.com"]
    assert set(last["links"]) == {"first", "prev", "last"}
    for bad in (
        "page[size]=26",
        "page[size]=0",
        "page[number]=0",
        "page[number]=x",
        "page[size]=-1",
        "page[offset]=3",
    ):
        response = api("GET", f"/api/customers?{bad}", tenant.admin)
        assert response.status_code == 400, bad
        assert response.json["errors"][0]["source"]["parameter"] == bad.split("=")[0]


@pytest.fixture()
def population(tenant):
    vip = make_group(tenant.org, "VIP")
    ada = make_customer(
        tenant.org, "ada@alpha.example", reference="CRM-1", metadata={"tier": "gold", "n": 1}, group=vip
    )
    bob = make_customer(tenant.org, "bob@beta.example", reference="CRM-2", metadata={"tier": "silver"})
    cyd = make_customer(tenant.org, "cyd@alpha.example")
    make_order(tenant.org, ada)
    make_order(tenant.org, ada)
    make_order(tenant.org, bob)
    make_customer(make_org_with_customer(), "ada@alpha.example")  # another org: never listed
    return {"vip": vip, "ada": ada, "bob": bob, "cyd": cyd}


def make_org_with_customer():
    from tests.factories import make_org

    return make_org()


def emails(response) -> list[str]:
    assert response.status_code == 200, response.json
    return sorted(c["attributes"]["email"] for c in response.json["data"])


@pytest.mark.parametrize(
    "query, expected",
    [
        ("filter[q][email_cont]=ALPHA", ["ada@alpha.example", "cyd@alpha.example"]),
        ("filter[q][email_start]=bob", ["bob@beta.example"]),
        ("filter[q][email_end]=beta.example", ["bob@beta.example"]),
        ("filter[q][email_i_cont]=Beta", ["bob@beta.example"]),
        ("filter[q][email_eq]=cyd@alpha.example", ["cyd@alpha.example"]),
        ("filter[q][email_not_eq]=cyd@alpha.example", ["ada@alpha.example", "bob@beta.example"]),
        ("filter[q][status_in]=acquired,repeat", ["ada@alpha.example", "bob@beta.example"]),
        ("filter[q][status_eq]=prospect", ["cyd@alpha.example"]),
        ("filter[q][status_not_in]=prospect", ["ada@alpha.example", "bob@beta.example"]),
        ("filter[q][total_orders_count_gt]=1", ["ada@alpha.example"]),
        ("filter[q][total_orders_count_lteq]=1", ["bob@beta.example", "cyd@alpha.example"]),
        ("filter[q][reference_null]=true", ["cyd@alpha.example"]),
        ("filter[q][reference_not_null]=true", ["ada@alpha.example", "bob@beta.example"]),
        ("filter[q][reference_present]=true", ["ada@alpha.example", "bob@beta.example"]),
        ("filter[q][reference_blank]=true", ["cyd@alpha.example"]),
        ('filter[q][metadata_jcont]={"tier":"gold"}', ["ada@alpha.example"]),
        ("filter[q][email_or_reference_cont]=crm-2", ["bob@beta.example"]),
        ("filter[q][email_cont]=alpha&filter[q][status_eq]=repeat", ["ada@alpha.example"]),
        (
            "filter[q][created_at_gt]=2000-01-01T00:00:00Z",
            ["ada@alpha.example", "bob@beta.example", "cyd@alpha.example"],
        ),
        ("filter[q][created_at_lt]=2000-01-01T00:00:00Z", []),
        (
            "filter[q][anonymization_status_null]=true",
            ["ada@alpha.example", "bob@beta.example", "cyd@alpha.example"],
        ),
        ("filter[q][email_cont]=%25", []),
        ("filter[q][email_cont]=_", []),
    ],
)
def test_filters(api, tenant, population, query, expected):
    assert emails(api("GET", f"/api/customers?{query}&page[size]=25", tenant.admin)) == expected


def test_filter_by_group_and_id(api, tenant, population):
    group_id = population["vip"].public_id
    assert emails(api("GET", f"/api/customers?filter[q][customer_group_id_eq]={group_id}", tenant.admin)) == [
        "ada@alpha.example"
    ]
    ids = f"{population['bob'].public_id},{population['cyd'].public_id}"
    assert emails(api("GET", f"/api/customers?filter[q][id_in]={ids}", tenant.admin)) == [
        "bob@beta.example",
        "cyd@alpha.example",
    ]


@pytest.mark.parametrize(
    "query, code, named",
    [
        ("filter[q][password_eq]=x", "FILTER_NOT_ALLOWED", "password_eq"),
        ("filter[q][shopper_reference_eq]=x", "FILTER_NOT_ALLOWED", "shopper_reference_eq"),
        ("filter[q][email_explode]=x", "FILTER_NOT_ALLOWED", "email_explode"),
        ("filter[q][total_orders_count_gt]=many", "INVALID_FILTER_VALUE", "total_orders_count_gt"),
        ("filter[q][created_at_gt]=yesterday", "INVALID_FILTER_VALUE", "created_at_gt"),
        ("filter[q][total_orders_count_cont]=x", "FILTER_NOT_ALLOWED", "total_orders_count_cont"),
        ("filter[q][status_in_any]=x", "FILTER_NOT_ALLOWED", "status_in_any"),
        ("filter[q][email_from]=x", "FILTER_NOT_ALLOWED", "email_from"),
        ("filter[q][orders_customer_id_eq]=x", "FILTER_NOT_ALLOWED", "orders_customer_id_eq"),
        (
            "filter[q][customer_addresses_address_city_eq]=x",
            "FILTER_NOT_ALLOWED",
            "customer_addresses_address_city",
        ),
        ("filter[q][customer_group_password_eq]=x", "FILTER_NOT_ALLOWED", "customer_group_password_eq"),
        ("filter[q][metadata_jcont]=[1]", "INVALID_FILTER_VALUE", "metadata_jcont"),
        ("filter[q][metadata_eq]=x", "FILTER_NOT_ALLOWED", "metadata_eq"),
        ("filter[email]=x", "PARAM_NOT_ALLOWED", "filter[email]"),
        ("sort=password", "INVALID_SORT_CRITERIA", "password"),
        ("sort=-metadata", "INVALID_SORT_CRITERIA", "metadata"),
        ("include=secrets", "INVALID_INCLUDE", "secrets"),
        ("include=customer_addresses.nothing", "INVALID_INCLUDE", "customer_addresses.nothing"),
        ("include=orders.market.customer_group.customers", "INVALID_INCLUDE", "orders.market.customer_group"),
        ("fields[customers]=password_hash", "INVALID_FIELD", "password_hash"),
        ("fields[nothing]=email", "INVALID_RESOURCE", "nothing"),
    ],
)
def test_unknown_query_parameters_are_400_and_named(api, tenant, population, query, code, named):
    response = api("GET", f"/api/customers?{query}", tenant.admin)
    assert response.status_code == 400
    error = response.json["errors"][0]
    assert error["code"] == code and named in error["detail"]


def test_sort(api, tenant, population):
    ascending = api("GET", "/api/customers?sort=email", tenant.admin).json["data"]
    assert [c["attributes"]["email"] for c in ascending] == [
        "ada@alpha.example",
        "bob@beta.example",
        "cyd@alpha.example",
    ]
    mixed = api("GET", "/api/customers?sort=-total_orders_count,email", tenant.admin).json["data"]
    assert [c["attributes"]["email"] for c in mixed] == [
        "ada@alpha.example",
        "bob@beta.example",
        "cyd@alpha.example",
    ]
    descending = api("GET", "/api/customers?sort=-email", tenant.admin).json["data"]
    assert descending[0]["attributes"]["email"] == "cyd@alpha.example"


def test_sparse_fieldsets_and_includes(api, tenant, population):
    ada = population["ada"]
    from portal.services import addresses
    from portal.services.audit import SYSTEM

    addresses.add_to_address_book(
        SYSTEM,
        tenant.org,
        ada,
        {
            "first_name": "Ada",
            "last_name": "L",
            "line_1": "1 St",
            "city": "London",
            "country_code": "GB",
            "phone": "1",
        },
    )
    response = api(
        "GET",
        f"/api/customers/{ada.public_id}?fields[customers]=email,customer_group,customer_addresses,orders"
        "&include=customer_group,customer_addresses.address,orders",
        tenant.admin,
    )
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert data["attributes"] == {"email": "ada@alpha.example"}
    assert set(data["relationships"]) == {"customer_group", "customer_addresses", "orders"}
    included = {(item["type"]) for item in response.json["included"]}
    assert included == {"customer_groups", "customer_addresses", "addresses", "orders"}
    address = next(i for i in response.json["included"] if i["type"] == "addresses")
    assert address["attributes"]["city"] == "London"


def test_retrieve_foreign_or_unknown_is_404(api, tenant, other):
    foreign = make_customer(other.org)
    for path in (f"/api/customers/{foreign.public_id}", "/api/customers/doesnotexist"):
        response = api("GET", path, tenant.admin)
        assert response.status_code == 404
        assert response.json["errors"][0]["code"] == "RECORD_NOT_FOUND"
    assert (
        api(
            "PATCH",
            f"/api/customers/{foreign.public_id}",
            tenant.admin,
            body({"reference": "x"}, id=foreign.public_id),
        ).status_code
        == 404
    )
    assert api("DELETE", f"/api/customers/{foreign.public_id}", tenant.admin).status_code == 404
    db.session.refresh(foreign)
    assert foreign.reference is None


def test_update_attributes_and_group(api, tenant):
    customer = make_customer(tenant.org)
    group = make_group(tenant.org)
    response = api(
        "PATCH",
        f"/api/customers/{customer.public_id}",
        tenant.admin,
        body(
            {"email": "changed@example.com", "shopper_reference": "migrated-001", "metadata": {"a": 1}},
            {"customer_group": {"data": {"type": "customer_groups", "id": group.public_id}}},
            id=customer.public_id,
        ),
    )
    assert response.status_code == 200, response.json
    attributes = response.json["data"]["attributes"]
    assert (attributes["email"], attributes["shopper_reference"], attributes["metadata"]) == (
        "changed@example.com",
        "migrated-001",
        {"a": 1},
    )
    assert customer.customer_group_id == group.id
    for clear in ({"data": {"type": "customer_groups", "id": None}}, {"data": None}):
        customer.customer_group_id = group.id
        response = api(
            "PATCH",
            f"/api/customers/{customer.public_id}",
            tenant.admin,
            body({}, {"customer_group": clear}, id=customer.public_id),
        )
        assert response.status_code == 200
        assert customer.customer_group_id is None


def test_update_refusals(api, tenant, other):
    customer = make_customer(tenant.org)
    path = f"/api/customers/{customer.public_id}"
    response = api("PATCH", path, tenant.admin, body({"reference": "x"}, id="other-id"))
    assert (response.status_code, response.json["errors"][0]["code"]) == (400, "KEY_NOT_INCLUDED_IN_URL")
    response = api("PATCH", path, tenant.admin, body({"shopper_reference": "x" * 129}, id=customer.public_id))
    assert response.status_code == 422
    foreign_group = make_group(other.org)
    response = api(
        "PATCH",
        path,
        tenant.admin,
        body(
            {},
            {"customer_group": {"data": {"type": "customer_groups", "id": foreign_group.public_id}}},
            id=customer.public_id,
        ),
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["source"]["pointer"] == "/data/relationships/customer_group"
    assert customer.customer_group_id is None


def test_delete(api, tenant):
    plain = make_customer(tenant.org).public_id
    assert api("DELETE", f"/api/customers/{plain}", tenant.admin).status_code == 204
    assert api("GET", f"/api/customers/{plain}", tenant.admin).status_code == 404
    buyer = make_customer(tenant.org)
    make_order(tenant.org, buyer)
    response = api("DELETE", f"/api/customers/{buyer.public_id}", tenant.admin)
    assert response.status_code == 423
    assert response.json["errors"][0]["code"] == "LOCKED"


def test_related_endpoints(api, tenant, population):
    ada = population["ada"]
    orders = api("GET", f"/api/customers/{ada.public_id}/orders", tenant.admin).json
    assert orders["meta"]["record_count"] == 2 and orders["data"][0]["type"] == "orders"
    group = api("GET", f"/api/customers/{ada.public_id}/customer_group", tenant.admin).json
    assert group["data"]["id"] == population["vip"].public_id
    linkage = api("GET", f"/api/customers/{ada.public_id}/relationships/orders", tenant.admin).json
    assert len(linkage["data"]) == 2 and linkage["data"][0]["type"] == "orders"
    none = api("GET", f"/api/customers/{population['cyd'].public_id}/customer_group", tenant.admin).json
    assert none["data"] is None
    assert api("GET", f"/api/customers/{ada.public_id}/secrets", tenant.admin).status_code == 404


# --- permissions -------------------------------------------------------------------------------------------------


def test_missing_or_bad_tokens_are_401(api, tenant, client):
    for token in (None, "garbage", "a.b.c"):
        response = api("GET", "/api/customers", token)
        assert response.status_code == 401
        assert response.json["errors"][0]["code"] == "UNAUTHORIZED"


def test_token_in_query_string_or_cookie_is_ignored(api, tenant, client):
    assert api("GET", f"/api/customers?access_token={tenant.admin}").status_code in (400, 401)
    client.set_cookie("access_token", tenant.admin)
    assert api("GET", "/api/customers").status_code == 401


def test_guest_sales_channel_may_only_sign_up(api, tenant):
    existing = make_customer(tenant.org)
    assert (
        api(
            "POST",
            "/api/customers",
            tenant.guest,
            body({"email": "signup@example.com", "password": PASSWORD}),
        ).status_code
        == 201
    )
    assert api("GET", "/api/customers", tenant.guest).status_code == 401
    assert api("GET", f"/api/customers/{existing.public_id}", tenant.guest).status_code == 401
    assert (
        api(
            "PATCH",
            f"/api/customers/{existing.public_id}",
            tenant.guest,
            body({"reference": "x"}, id=existing.public_id),
        ).status_code
        == 401
    )
    assert api("DELETE", f"/api/customers/{existing.public_id}", tenant.guest).status_code == 401
    group = make_group(tenant.org)
    response = api(
        "POST",
        "/api/customers",
        tenant.guest,
        body(
            {"email": "sneaky@example.com"},
            {"customer_group": {"data": {"type": "customer_groups", "id": group.public_id}}},
        ),
    )
    assert response.status_code == 400  # a shopper cannot put themselves in a group (private markets)


def test_customer_token_sees_and_changes_only_itself(api, tenant):
    me = make_customer(tenant.org, password=PASSWORD)
    someone = make_customer(tenant.org)
    token = customer_token(tenant, me)
    listed = api("GET", "/api/customers", token).json["data"]
    assert [c["id"] for c in listed] == [me.public_id]
    assert api("GET", f"/api/customers/{someone.public_id}", token).status_code == 404
    assert (
        api(
            "PATCH",
            f"/api/customers/{someone.public_id}",
            token,
            body({"reference": "x"}, id=someone.public_id),
        ).status_code
        == 404
    )
    response = api(
        "PATCH", f"/api/customers/{me.public_id}", token, body({"reference": "mine"}, id=me.public_id)
    )
    assert response.status_code == 200
    group = make_group(tenant.org)
    response = api(
        "PATCH",
        f"/api/customers/{me.public_id}",
        token,
        body(
            {},
            {"customer_group": {"data": {"type": "customer_groups", "id": group.public_id}}},
            id=me.public_id,
        ),
    )
    assert response.status_code == 400
    assert me.customer_group_id is None


def test_read_only_integration_only_reads(api, tenant):
    customer = make_customer(tenant.org)
    assert api("GET", "/api/customers", tenant.read_only).status_code == 200
    assert (
        api("POST", "/api/customers", tenant.read_only, body({"email": "x@example.com"})).status_code == 401
    )
    assert (
        api(
            "PATCH",
            f"/api/customers/{customer.public_id}",
            tenant.read_only,
            body({"reference": "x"}, id=customer.public_id),
        ).status_code
        == 401
    )
    assert api("DELETE", f"/api/customers/{customer.public_id}", tenant.read_only).status_code == 401


def test_provisioning_token_cannot_use_the_core_api(api, tenant):
    user = make_user(tenant.org)
    application, _ = make_application(None, "user", user=user)
    assert api("GET", "/api/customers", token_for(application)).status_code == 401


def test_other_orgs_token_sees_nothing(api, tenant, other):
    make_customer(tenant.org)
    assert api("GET", "/api/customers", other.admin).json["meta"]["record_count"] == 0


# --- anonymization triggers ------------------------------------------------------------------------------------


def trigger(api, token, customer, name):
    return api(
        "PATCH", f"/api/customers/{customer.public_id}", token, body({name: True}, id=customer.public_id)
    )


def test_anonymization_request_and_cancel_with_a_user_owned_integration_token(api, tenant):
    customer = make_customer(tenant.org)
    response = trigger(api, tenant.owner_admin, customer, "_request_anonymization")
    assert response.status_code == 200, response.json
    attributes = response.json["data"]["attributes"]
    assert attributes["anonymization_status"] == "requested"
    info = attributes["anonymization_info"]
    assert info["status"] == "requested" and info["requested_at"].endswith(" UTC")
    assert info["requester"] == {
        "id": tenant.admin_user.public_id,
        "first_name": "Sam",
        "last_name": "Staff",
        "email": tenant.admin_user.email,
    }
    again = trigger(api, tenant.owner_admin, customer, "_request_anonymization")
    assert again.status_code == 422
    cancelled = trigger(api, tenant.owner_admin, customer, "_cancel_anonymization")
    assert cancelled.status_code == 200
    info = cancelled.json["data"]["attributes"]["anonymization_info"]
    assert (
        info["status"] == "cancelled" and info["cancellation_requester"]["id"] == tenant.admin_user.public_id
    )
    assert trigger(api, tenant.owner_admin, customer, "_cancel_anonymization").status_code == 422
    assert trigger(api, tenant.owner_admin, customer, "_request_anonymization").status_code == 200
    listed = api(
        "GET",
        "/api/customers?filter[q][anonymization_status_eq]=requested&sort=-anonymization_status",
        tenant.admin,
    ).json
    assert [c["id"] for c in listed["data"]] == [customer.public_id]


@pytest.mark.parametrize("who", ["admin", "read_only", "guest", "owner_viewer", "customer"])
def test_anonymization_triggers_refused_for_other_tokens(api, tenant, who):
    customer = make_customer(tenant.org, password=PASSWORD)
    token = customer_token(tenant, customer) if who == "customer" else getattr(tenant, who)
    for name in ("_request_anonymization", "_cancel_anonymization"):
        response = trigger(api, token, customer, name)
        assert response.status_code == 401, (who, response.json)
        assert response.json["errors"][0]["code"] == "UNAUTHORIZED"
    assert customer.anonymization_status is None


def test_any_admin_user_of_the_org_may_request_anonymization(api, tenant):
    """The rule (issue 15 item 13): a user of the organization with write permission (the admin role), through an
    integration with write permission; a second admin may cancel what the first requested. A read-only integration
    owned by an admin user is refused like a read-only user."""
    customer = make_customer(tenant.org)
    second_admin = make_user(tenant.org, "admin")
    assert trigger(api, tenant.owner_admin, customer, "_request_anonymization").status_code == 200
    cancelled = trigger(api, token_for(tenant.integration, second_admin), customer, "_cancel_anonymization")
    assert cancelled.status_code == 200, cancelled.json
    read_only_app, _ = make_application(tenant.org, "integration", "read_only")
    refused = trigger(api, token_for(read_only_app, tenant.admin_user), customer, "_request_anonymization")
    assert refused.status_code == 401


def test_anonymization_of_another_orgs_customer_is_404(api, tenant, other):
    foreign = make_customer(other.org)
    assert trigger(api, tenant.owner_admin, foreign, "_request_anonymization").status_code == 404
    assert foreign.anonymization_status is None


def test_anonymization_trigger_must_be_true(api, tenant):
    customer = make_customer(tenant.org)
    response = trigger(api, tenant.owner_admin, customer, "_request_anonymization")
    assert response.status_code == 200
    response = api(
        "PATCH",
        f"/api/customers/{customer.public_id}",
        tenant.owner_admin,
        body({"_cancel_anonymization": "maybe"}, id=customer.public_id),
    )
    assert response.status_code == 422
