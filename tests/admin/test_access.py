"""Every admin route × every kind of caller, in one table (STYLE 18), plus the "another org's ids" column."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent
from tests.admin.conftest import csrf_from, login, token
from tests.factories import PASSWORD, make_customer, make_group, make_user

# (method, path under /admin/<slug>, form data, admin-only?, status for an admin of the org)
ROUTES = [
    ("GET", "/", {}, False, 200),
    ("GET", "/customers", {}, False, 200),
    ("GET", "/customers.csv", {}, False, 200),
    ("POST", "/customers/bulk", {"ids": "{customer}", "group": "{group}"}, True, 200),
    ("POST", "/customers/bulk-tag", {"ids": "{customer}", "tag": "{tag}", "action": "add"}, True, 200),
    ("POST", "/customers/{customer}/tags", {"name": "vip"}, True, 303),
    ("POST", "/customers/{customer}/tags/{tag}/remove", {}, True, 303),
    ("POST", "/customers/{customer}/notes", {"text": "Called about the invoice"}, True, 303),
    ("POST", "/customers/{customer}/notes/{note}/delete", {}, True, 303),
    ("GET", "/customers/{customer}", {}, False, 200),
    ("GET", "/customers/{customer}/edit", {}, True, 200),
    (
        "POST",
        "/customers/{customer}/edit",
        {"email": "new@example.com", "shopper_reference": "abc123"},
        True,
        303,
    ),
    ("POST", "/customers/{customer}/group", {"group": "{group}"}, True, 303),
    ("POST", "/customers/{customer}/password-reset", {}, True, 303),
    ("POST", "/customers/{customer}/delete", {}, True, 303),
    ("GET", "/customers/{customer}/anonymization", {}, True, 200),
    ("POST", "/customers/{customer}/anonymization", {"action": "request"}, True, 303),
    ("GET", "/groups", {}, False, 200),
    ("GET", "/groups/new", {}, True, 200),
    ("POST", "/groups/new", {"name": "Gold"}, True, 303),
    ("GET", "/groups/{group}", {}, False, 200),
    ("GET", "/groups/{group}/edit", {}, True, 200),
    ("POST", "/groups/{group}/edit", {"name": "Platinum"}, True, 303),
    ("POST", "/groups/{group}/delete", {}, True, 303),
    ("GET", "/markets", {}, False, 200),
    ("POST", "/markets/{market}", {"{market}-group": "{group}"}, True, 303),
    ("GET", "/privacy", {}, False, 200),
    ("POST", "/privacy/deletions/{deletion}/approve", {}, True, 303),
    ("POST", "/privacy/deletions/{deletion}/reject", {"{deletion}-reason": "Open invoices"}, True, 303),
    ("GET", "/audit", {}, False, 200),
    ("GET", "/settings", {}, False, 200),
    ("POST", "/settings", {"name": "Renamed", "primary_color": "#112233"}, True, 303),
    ("POST", "/settings/members", {"email": "invitee@example.com", "role": "read_only"}, True, 303),
    ("POST", "/settings/members/{member}", {"{member}-role": "admin", "action": "role"}, True, 303),
    ("POST", "/settings/applications", {"name": "ERP", "kind": "integration", "role": "admin"}, True, 201),
    ("POST", "/settings/applications/{application}", {"action": "rotate"}, True, 200),
    ("POST", "/settings/credentials", {}, False, 200),
    ("GET", "/reauth", {}, False, 200),
    ("GET", "/settings/webhooks", {}, False, 200),
    (
        "POST",
        "/settings/webhooks",
        {"topic": "customers.create", "callback_url": "http://127.0.0.1:9/hook"},
        True,
        201,
    ),
    ("GET", "/settings/webhooks/{webhook}", {}, False, 200),
    ("POST", "/settings/webhooks/{webhook}", {"action": "reset"}, True, 303),
    ("POST", "/settings/webhooks/{webhook}/delete", {}, True, 303),
]
CALLERS = ["anonymous", "anonymous_htmx", "shopper", "read_only", "admin", "other_org_admin"]


@pytest.fixture()
def world(org, customer, group):
    from portal.services import deletion_requests
    from portal.services.audit import SYSTEM
    from tests.factories import make_application

    shopper = make_customer(org, "deleteme@example.com")
    deletion = deletion_requests.create(SYSTEM, org, shopper)
    member = make_user(org, "read_only")
    application, _secret = make_application(org)
    market = db.session.scalars(select(org.__class__).where(False)).first()  # placeholder, replaced below
    from portal.models import Market

    market = db.session.scalar(select(Market).where(Market.organization_id == org.id))
    from portal.services import attachments, tags, webhooks
    from portal.services.audit import Actor

    webhook = webhooks.create_webhook(
        SYSTEM, org, {"topic": "customers.create", "callback_url": "http://127.0.0.1:9/hook"}
    )
    tag = tags.add_by_name(SYSTEM, org, customer, "gold")
    note = attachments.add_note(Actor.of_user(make_user(org, "admin")), org, customer, "A note")
    return {
        "webhook": webhook.public_id,
        "tag": tag.public_id,
        "note": note.public_id,
        "customer": customer.public_id,
        "group": group.public_id,
        "deletion": deletion.public_id,
        "member": member.public_id,
        "application": application.public_id,
        "market": market.public_id,
    }


def _fill(value: str, ids: dict[str, str]) -> str:
    return value.format(**ids)


def _sign_in(client, caller, org, other_org, customer_org):
    if caller == "read_only":
        login(client, make_user(org, "read_only"))
    elif caller == "admin":
        login(client, make_user(org, "admin"))
    elif caller == "other_org_admin":
        login(client, make_user(other_org, "admin"))
    elif caller == "shopper":
        shopper = make_customer(org, "shopper-login@example.com", password=PASSWORD)
        page = client.get(f"/{org.slug}/account/login")
        response = client.post(
            f"/{org.slug}/account/login",
            data={"email": shopper.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        )
        assert response.status_code == 303, response.text


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "path", "data", "admin_only", "admin_status"), ROUTES, ids=[f"{m} {p}" for m, p, *_ in ROUTES]
)
def test_access_matrix(client, org, other_org, world, caller, method, path, data, admin_only, admin_status):
    _sign_in(client, caller, org, other_org, None)
    url = f"/admin/{org.slug}" + _fill(path, world)
    form = {_fill(k, world): _fill(v, world) for k, v in data.items()}
    if caller == "shopper" or caller.startswith("anonymous"):
        form["csrf_token"] = token(client, "/admin/login")
    else:
        form["csrf_token"] = token(
            client, f"/admin/{other_org.slug if caller == 'other_org_admin' else org.slug}/settings"
        )
    headers = {"HX-Request": "true"} if caller == "anonymous_htmx" else {}
    response = client.open(url, method=method, data=form if method == "POST" else None, headers=headers)
    expected = {
        "anonymous": 303,
        "anonymous_htmx": 401,
        "shopper": 303,  # the shopper's session lives in the shop's own cookie: to staff pages it is anonymous
        "read_only": 403 if admin_only else 200,
        "admin": admin_status,
        "other_org_admin": 404,
    }[caller]
    assert response.status_code == expected, response.text[:800]
    if caller in ("anonymous", "shopper"):
        assert response.headers["Location"].startswith("/admin/login")
    if caller == "anonymous_htmx":
        assert response.headers["HX-Redirect"].startswith("/admin/login")


def test_other_orgs_ids_are_not_found_and_nothing_changes(as_admin, org, other_org):
    foreign = make_customer(other_org, "foreign@example.com")
    foreign_group = make_group(other_org, "Theirs")
    csrf = token(as_admin, f"/admin/{org.slug}/settings")
    before = (
        db.session.scalar(select(db.func.count()).select_from(AuditEvent)) if hasattr(db, "func") else None
    )
    base = f"/admin/{org.slug}"
    for method, path, data in [
        ("GET", f"/customers/{foreign.public_id}", {}),
        (
            "POST",
            f"/customers/{foreign.public_id}/edit",
            {"email": "x@example.com", "shopper_reference": "zzz"},
        ),
        ("POST", f"/customers/{foreign.public_id}/delete", {}),
        ("POST", f"/groups/{foreign_group.public_id}/delete", {}),
        ("GET", f"/groups/{foreign_group.public_id}", {}),
    ]:
        response = as_admin.open(base + path, method=method, data={**data, "csrf_token": csrf})
        assert response.status_code == 404, path
    db.session.refresh(foreign)
    assert foreign.email == "foreign@example.com"
    assert before is None or db.session.scalar(select(db.func.count()).select_from(AuditEvent)) == before
    # Assigning one's own customer to another org's group is refused too.
    customer = make_customer(org)
    response = as_admin.post(
        f"{base}/customers/{customer.public_id}/group",
        data={"group": foreign_group.public_id, "csrf_token": csrf},
    )
    assert response.status_code == 422
    db.session.refresh(customer)
    assert customer.customer_group_id is None
