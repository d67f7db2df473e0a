"""Every admin form's bad input → 422 with the field's error inline, nothing written; plain and htmx variants."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import Application, AuditEvent, CustomerGroup
from tests.admin.conftest import token

CASES = [
    # (path, data, field id whose error must show)
    ("/customers/{customer}/edit", {"email": "not-an-email", "shopper_reference": "ok-ref"}, "email"),
    (
        "/customers/{customer}/edit",
        {"email": "a@example.com", "shopper_reference": "ab"},
        "shopper_reference",
    ),
    (
        "/customers/{customer}/edit",
        {"email": "a@example.com", "shopper_reference": "abc", "metadata_json": "{nope"},
        "metadata_json",
    ),
    (
        "/customers/{customer}/edit",
        {"email": "a@example.com", "shopper_reference": "abc", "metadata_json": "[1]"},
        "metadata_json",
    ),
    ("/customers/{customer}/edit", {"email": "taken@example.com", "shopper_reference": "abc"}, "email"),
    ("/customers/{customer}/group", {"group": "nosuchgroup"}, "group"),
    ("/groups/new", {"name": ""}, "name"),
    ("/groups/new", {"name": "Dup", "code": "vip"}, "code"),
    ("/groups/new", {"name": "Bad", "code": "has space"}, "code"),
    ("/settings", {"name": "", "primary_color": "#112233"}, "name"),
    ("/settings", {"name": "X", "primary_color": "blue"}, "primary_color"),
    (
        "/settings",
        {"name": "X", "primary_color": "#112233", "allowed_origins": "https://shop.example.com/path"},
        "allowed_origins",
    ),
    (
        "/settings",
        {"name": "X", "primary_color": "#112233", "allowed_origins": "http://shop.example.com"},
        "allowed_origins",
    ),
    ("/settings", {"name": "X", "primary_color": "#112233", "logo_url": "javascript:alert(1)"}, "logo_url"),
    (
        "/settings",
        {"name": "X", "primary_color": "#112233", "anonymization_delay_seconds": "-5"},
        "anonymization_delay_seconds",
    ),
    ("/settings/members", {"email": "nope", "role": "admin"}, "email"),
    ("/settings/members", {"email": "x@example.com", "role": "owner"}, "role"),
    ("/settings/applications", {"name": "", "kind": "integration", "role": "admin"}, "name"),
    ("/settings/applications", {"name": "A", "kind": "user", "role": "admin"}, "kind"),
]


def _counts():
    return (
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
        db.session.scalar(select(func.count()).select_from(CustomerGroup)),
        db.session.scalar(select(func.count()).select_from(Application)),
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(("path", "data", "field"), CASES, ids=[f"{p}:{f}" for p, _d, f in CASES])
def test_bad_input_is_422_inline_and_writes_nothing(as_admin, org, customer, group, htmx, path, data, field):
    from tests.factories import make_customer

    make_customer(org, "taken@example.com")
    from portal.services import groups
    from portal.services.audit import SYSTEM

    groups.update_group(SYSTEM, org, group, {"code": "vip"})
    before = _counts()
    url = f"/admin/{org.slug}" + path.format(customer=customer.public_id)
    csrf = token(as_admin, f"/admin/{org.slug}/settings")
    headers = {"HX-Request": "true"} if htmx else {}
    response = as_admin.post(url, data={**data, "csrf_token": csrf}, headers=headers)
    assert response.status_code == 422, response.text[:500]
    assert f'id="{field}-error"' in response.text or 'class="field-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    if htmx and path.endswith("/edit"):
        assert "<html" not in response.text  # only the form block
    assert _counts() == before
    db.session.refresh(customer)
    assert customer.email == "ann@example.com"


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_login_bad_input(client, admin, htmx):
    csrf = token(client, "/admin/login")
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(
        "/admin/login",
        data={"email": admin.email, "password": "wrong password", "csrf_token": csrf},
        headers=headers,
    )
    assert response.status_code == 422
    assert "Wrong email or password" in response.text
    response = client.post(
        "/admin/login", data={"email": "", "password": "", "csrf_token": csrf}, headers=headers
    )
    assert response.status_code == 422
    assert 'id="email-error"' in response.text


def test_missing_csrf_is_refused(as_admin, org, customer):
    response = as_admin.post(
        f"/admin/{org.slug}/customers/{customer.public_id}/edit",
        data={"email": "x@example.com", "shopper_reference": "abcdef"},
    )
    assert response.status_code == 400
    db.session.refresh(customer)
    assert customer.email == "ann@example.com"


def test_reject_without_reason_is_422(as_admin, org):
    from portal.services import deletion_requests
    from portal.services.audit import SYSTEM
    from tests.factories import make_customer

    shopper = make_customer(org)
    request = deletion_requests.create(SYSTEM, org, shopper)
    csrf = token(as_admin, f"/admin/{org.slug}/privacy")
    response = as_admin.post(
        f"/admin/{org.slug}/privacy/deletions/{request.public_id}/reject",
        data={f"{request.public_id}-reason": "", "csrf_token": csrf},
    )
    assert response.status_code == 422
    assert f'id="{request.public_id}-reason-error"' in response.text
    db.session.refresh(request)
    assert request.status.value == "pending"


def test_bad_search_filters_are_422(as_reader, org):
    for args in ("status=gone", "created_from=yesterday", "sort=random", "after=%%%", "kind=robot"):
        response = as_reader.get(f"/admin/{org.slug}/customers?{args}")
        assert response.status_code == 422, args
        assert "field-error" in response.text
