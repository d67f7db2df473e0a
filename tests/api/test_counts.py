"""The record_count cache: reused within its lifetime, per query, and off when configured so."""

from sqlalchemy import update

from portal import db
from portal.models import CustomerCount
from tests.factories import make_customer, make_group


def test_record_count_is_reused_for_the_same_query_only(api, tenant, app, monkeypatch):
    monkeypatch.setitem(app.config, "API_COUNT_CACHE_SECONDS", 60)
    make_customer(tenant.org, "one@example.com")
    path = "/api/customers?filter[q][email_end]=example.com&page[size]=1"
    assert api("GET", path, tenant.admin).json["meta"]["record_count"] == 1
    make_customer(tenant.org, "two@example.com")
    cached = api("GET", path, tenant.admin).json
    assert cached["meta"]["record_count"] == 1  # reused: may lag writes by the cache lifetime
    assert len(cached["data"]) == 1
    other_query = api("GET", path + "&sort=email", tenant.admin).json  # ordering doesn't change the count key
    assert other_query["meta"]["record_count"] == 1
    assert (
        api("GET", "/api/customers?filter[q][email_cont]=example", tenant.admin).json["meta"]["record_count"]
        == 2
    )
    monkeypatch.setitem(app.config, "API_COUNT_CACHE_SECONDS", 0)
    assert api("GET", path, tenant.admin).json["meta"]["record_count"] == 2


def test_record_count_is_never_shared_between_organizations(api, tenant, other, app, monkeypatch):
    monkeypatch.setitem(app.config, "API_COUNT_CACHE_SECONDS", 60)
    make_customer(tenant.org)
    assert api("GET", "/api/customers", tenant.admin).json["meta"]["record_count"] == 1
    assert api("GET", "/api/customers", other.admin).json["meta"]["record_count"] == 0


def test_whole_org_and_status_lists_count_from_the_counter_rows(api, tenant):
    make_customer(tenant.org)
    make_customer(tenant.org)
    meta = api("GET", "/api/customers?page[size]=1", tenant.admin).json["meta"]
    assert meta == {"record_count": 2, "page_count": 2}
    assert (
        api("GET", "/api/customers?filter[q][status_in]=prospect,repeat", tenant.admin).json["meta"][
            "record_count"
        ]
        == 2
    )
    assert (
        api("GET", "/api/customers?filter[q][status_eq]=repeat", tenant.admin).json["meta"]["record_count"]
        == 0
    )
    # The counters are what these lists read (the triggers keep them exact; here they are tampered with to show it),
    # while any other filter counts the rows.
    db.session.execute(
        update(CustomerCount).where(CustomerCount.organization_id == tenant.org.id).values(count=7)
    )
    assert api("GET", "/api/customers", tenant.admin).json["meta"]["record_count"] == 7
    assert (
        api("GET", "/api/customers?filter[q][email_cont]=example", tenant.admin).json["meta"]["record_count"]
        == 2
    )


def test_a_related_list_counts_its_own_rows_not_the_organization(api, tenant):
    group = make_group(tenant.org)
    make_customer(tenant.org, group=group)
    make_customer(tenant.org)
    related = api("GET", f"/api/customer_groups/{group.public_id}/customers", tenant.admin).json
    assert related["meta"]["record_count"] == len(related["data"]) == 1
