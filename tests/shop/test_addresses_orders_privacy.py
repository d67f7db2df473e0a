"""Address book (inline with htmx and without JS), orders (read-only), privacy (export, deletion request)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import CustomerAddress, DeletionRequest
from portal.models.customers import DeletionRequestStatus
from portal.services import addresses
from portal.services.audit import SYSTEM
from tests.factories import PASSWORD, make_customer, make_order, make_org
from tests.shop.conftest import csrf_from, login, post_form

ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "line_1": "12 St James's Square",
    "city": "London",
    "zip_code": "SW1Y 4JH",
    "country_code": "GB",
    "phone": "+44 20 7946 0001",
}


def _entries() -> int:
    return db.session.scalar(select(func.count()).select_from(CustomerAddress))


def test_add_edit_delete_without_js(signed_in, org, shopper):
    base = f"/{org.slug}/account/addresses"
    response = post_form(signed_in, base, ADDRESS)
    assert response.status_code == 303 and response.headers["Location"] == base
    entry = db.session.scalar(select(CustomerAddress))
    assert entry.customer_id == shopper.id and entry.address.city == "London"
    edit = signed_in.get(f"{base}/{entry.public_id}/edit").get_data(as_text=True)
    assert 'value="London"' in edit and "Edit address" in edit
    response = post_form(signed_in, base, {**ADDRESS, "city": "Paris"}, url=f"{base}/{entry.public_id}")
    assert response.status_code == 303
    db.session.refresh(entry.address)
    assert entry.address.city == "Paris"
    assert post_form(signed_in, base, {}, url=f"{base}/{entry.public_id}/delete").status_code == 303
    assert _entries() == 0


def test_add_and_edit_inline_with_htmx(signed_in, org, hx):
    base = f"/{org.slug}/account/addresses"
    response = post_form(signed_in, base, ADDRESS, headers=hx)
    fragment = signed_in.get(response.headers["Location"], headers=hx).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="address-book">') and "<html" not in fragment
    assert "Address added." in fragment and "London" in fragment
    entry = db.session.scalar(select(CustomerAddress))
    form = signed_in.get(f"{base}/{entry.public_id}/edit", headers=hx).get_data(as_text=True)
    assert form.lstrip().startswith('<div id="address-book">') and 'value="London"' in form
    bad = signed_in.post(
        f"{base}/{entry.public_id}", data={"csrf_token": csrf_from(form), **ADDRESS, "city": ""}, headers=hx
    )
    assert bad.status_code == 422 and 'id="city-error"' in bad.get_data(as_text=True)
    assert "<html" not in bad.get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"line_1": ""}, "line_1"),
        ({"country_code": "France"}, "country_code"),
        ({"country_code": "F"}, "country_code"),
        ({"first_name": ""}, "first_name"),
        ({"phone": ""}, "phone"),
    ],
)
def test_bad_address_is_422_with_field_error_and_nothing_written(signed_in, org, change, field, hx):
    for headers in ({}, hx):
        response = post_form(
            signed_in, f"/{org.slug}/account/addresses", {**ADDRESS, **change}, headers=headers
        )
        assert response.status_code == 422
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _entries() == 0


def test_another_customers_or_orgs_address_is_404(signed_in, org):
    other_customer = make_customer(org)
    other_org = make_org()
    foreign = [
        addresses.add_to_address_book(SYSTEM, org, other_customer, ADDRESS),
        addresses.add_to_address_book(SYSTEM, other_org, make_customer(other_org), ADDRESS),
    ]
    base = f"/{org.slug}/account/addresses"
    for entry in foreign:
        assert signed_in.get(f"{base}/{entry.public_id}/edit").status_code == 404
        assert post_form(signed_in, base, ADDRESS, url=f"{base}/{entry.public_id}").status_code == 404
        assert post_form(signed_in, base, {}, url=f"{base}/{entry.public_id}/delete").status_code == 404
    assert _entries() == 2


def test_orders_list_and_detail_are_the_customers_own(signed_in, org, shopper):
    mine = make_order(org, shopper, total_amount_cents=4250)
    theirs = make_order(org, make_customer(org))
    other_org = make_org()
    elsewhere = make_order(other_org, make_customer(other_org))
    html = signed_in.get(f"/{org.slug}/account/orders").get_data(as_text=True)
    assert f"#{mine.number}" in html and theirs.public_id not in html
    detail = signed_in.get(f"/{org.slug}/account/orders/{mine.public_id}")
    assert detail.status_code == 200 and "€42.50" in detail.get_data(as_text=True)
    for order in (theirs, elsewhere):
        assert signed_in.get(f"/{org.slug}/account/orders/{order.public_id}").status_code == 404


def test_download_my_data(signed_in, org, shopper):
    addresses.add_to_address_book(SYSTEM, org, shopper, ADDRESS)
    make_order(org, shopper)
    response = signed_in.get(f"/{org.slug}/account/privacy/export")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.get_data(as_text=True))
    assert data["profile"]["email"] == shopper.email
    assert data["addresses"][0]["city"] == "London" and len(data["orders"]) == 1
    assert len(data["sessions"]) == 1 and data["deletion_requests"] == [] and data["anonymization"] is None
    assert set(data) == {
        "organization",
        "profile",
        "tags",
        "subscriptions",
        "notes",
        "addresses",
        "orders",
        "sessions",
        "deletion_requests",
        "anonymization",
    }


def test_request_and_withdraw_deletion(signed_in, org, shopper, hx):
    base = f"/{org.slug}/account/privacy"
    response = post_form(signed_in, base, {}, url=f"{base}/deletion", headers=hx)
    assert response.status_code == 303
    fragment = signed_in.get(base, headers=hx).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="deletion"') and "Withdraw my request" in fragment
    again = post_form(signed_in, base, {}, url=f"{base}/deletion")
    assert again.status_code == 422 and "already asked to delete your data" in again.get_data(as_text=True)
    assert post_form(signed_in, base, {}, url=f"{base}/deletion/withdraw").status_code == 303
    request = db.session.scalar(select(DeletionRequest))
    assert request.status is DeletionRequestStatus.WITHDRAWN and request.customer_id == shopper.id
    assert post_form(signed_in, base, {}, url=f"{base}/deletion/withdraw").status_code == 404


def test_state_changing_buttons_need_the_csrf_token(signed_in, org):
    for path in ("privacy/deletion", "security/sign-out-everywhere", "logout"):
        response = signed_in.post(f"/{org.slug}/account/{path}")
        assert response.status_code in (400, 303)
    assert db.session.scalar(select(DeletionRequest)) is None
    assert signed_in.get(f"/{org.slug}/account/").status_code == 200


def test_a_second_customer_sees_only_their_own_data(app, org, shopper):
    other = make_customer(org, password=PASSWORD)
    addresses.add_to_address_book(SYSTEM, org, shopper, ADDRESS)
    client = app.test_client()
    login(client, org, other.email)
    assert "London" not in client.get(f"/{org.slug}/account/addresses").get_data(as_text=True)
    assert shopper.email not in client.get(f"/{org.slug}/account/privacy/export").get_data(as_text=True)
