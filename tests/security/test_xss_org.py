"""BR3 / S11, organization data: the XSS corpus stored in group, market, org settings, member, application and
deletion-reason texts and in user agents, echoed in query parameters; every page that shows them is audited
(see test_xss.py for the method and tests/security/xss.py for the audit)."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from portal import db
from portal.models import DeletionRequest, Order, OutboxMessage
from portal.models.customers import DeletionRequestStatus
from portal.services import groups, orgs, staff
from portal.services.audit import SYSTEM
from tests.factories import PASSWORD, make_group
from tests.security.conftest import csrf_from, new_client, shop_login
from tests.security.xss import (
    HX,
    LEDGER,
    PAYLOADS,
    Api,
    accepted,
    api_refusals,
    check,
    check_outbox,
    form_refusals,
    get_both,
    resource,
    rotation,
    store,
)


def test_groups_from_admin_and_api(client, world, admin_client, shopper_client):
    api, slug = Api(client, world.token), world.org.slug
    token = csrf_from(admin_client.get(f"/admin/{slug}/groups/new").text)
    for k, values in rotation(("name", "code", "reference"), every={"code": 6}):
        store(
            "admin group",
            values,
            lambda v, k=k: admin_client.post(
                f"/admin/{slug}/groups/new", data={**v, "csrf_token": token}, headers=HX if k % 2 else {}
            ),
            form_refusals,
            lambda f, k=k: f"okg{k}" if f == "code" else f"ok {f}",
        )
    for k, values in rotation(
        ("name", "code", "reference", "reference_origin", "metadata"), every={"code": 6}
    ):
        values["metadata"] = {"label": values["metadata"]}
        store(
            "api group",
            values,
            lambda v: api("POST", "/api/customer_groups", resource("customer_groups", v)),
            api_refusals,
            lambda f, k=k: {"code": f"oka{k}", "metadata": {}}.get(f, f"ok {f}"),
        )
    check(api("GET", "/api/customer_groups?page[size]=25"), "api groups list")
    all_groups = [grp for grp, _n in groups.with_member_counts(world.org)]
    assert len(all_groups) >= 2 * len(PAYLOADS)
    check(admin_client.get(f"/admin/{slug}/groups"), "admin groups")
    for k, grp in enumerate(all_groups):
        check(admin_client.get(f"/admin/{slug}/groups/{grp.public_id}"), "admin group")
        if k % 3 == 0:
            check(
                admin_client.get(f"/admin/{slug}/groups/{grp.public_id}/edit", headers=HX if k % 6 else {}),
                "admin group edit form",
            )
    customer_url = f"/admin/{slug}/customers/{world.shopper.public_id}"
    for k, grp in enumerate(all_groups[:: max(1, len(all_groups) // 30)]):
        response = admin_client.post(
            f"{customer_url}/group",
            data={"group": grp.public_id, "csrf_token": token},
            headers=HX if k % 2 else {},
        )
        check(response, "admin customer group")
        check(shopper_client.get(f"/{slug}/account/"), "shop overview")
        bulk = admin_client.post(
            f"/admin/{slug}/customers/bulk",
            data={"ids": world.shopper.public_id, "group": grp.public_id, "csrf_token": token},
        )
        check(bulk, "admin bulk confirm")
    get_both(admin_client, customer_url, "admin customer")
    get_both(admin_client, f"/admin/{slug}/customers", "admin customers")
    check(admin_client.get(f"/admin/{slug}/markets"), "admin markets")
    formula = next(grp for grp in all_groups if grp.name.startswith("="))
    groups.assign_to_group(SYSTEM, world.org, world.shopper, formula)
    export = admin_client.get(f"/admin/{slug}/customers.csv")
    check(export, "admin csv export")
    assert "'" + formula.name in {cell for row in csv.reader(io.StringIO(export.text)) for cell in row}
    assert (
        accepted("admin group") >= 2 * len(PAYLOADS) - 6 and accepted("api group") >= 4 * len(PAYLOADS) - 10
    )


def test_market_names_and_orders(client, world, admin_client, shopper_client):
    """No page or API call renames a market (the CLI and the services do): names go in through the service."""
    api, slug = Api(client, world.token), world.org.slug
    group = make_group(world.org, "Members")
    groups.assign_to_group(SYSTEM, world.org, world.shopper, group)
    markets = []
    for k, payload in enumerate(PAYLOADS):
        if "\x00" in payload or "\n" in payload or len(payload) > 255:
            continue
        market = orgs.create_market(SYSTEM, world.org, name=payload, code=f"xm{k}")
        if k % 2:
            groups.set_market_group(SYSTEM, world.org, market, group)
        markets.append(market)
        LEDGER["accepted"]["service market.name"] += 1
    db.session.flush()
    for k, values in rotation(("number", "reference", "reference_origin", "metadata")):
        values["metadata"] = {"note": values["metadata"]}
        market = markets[k % len(markets)]
        store(
            "api order",
            values,
            lambda v, m=market: api(
                "POST",
                "/api/orders",
                resource(
                    "orders",
                    {**v, "currency_code": "EUR", "total_amount_cents": 1234},
                    customer=("customers", world.shopper.public_id),
                    market=("markets", m.public_id),
                ),
            ),
            api_refusals,
            lambda f, k=k: {"number": f"n{k}", "metadata": {}}.get(f, f"ok {f}"),
        )
    check(api("GET", "/api/orders?page[size]=25"), "api orders list")
    for order in db.session.scalars(select(Order).where(Order.customer_id == world.shopper.id)):
        check(
            api(
                "PATCH",
                f"/api/orders/{order.public_id}",
                {"data": {"type": "orders", "id": order.public_id, "attributes": {"_place": True}}},
            ),
            "api order place",
        )
        check(shopper_client.get(f"/{slug}/account/orders/{order.public_id}"), "shop order")
    for page in ("", "/orders"):
        get_both(shopper_client, f"/{slug}/account{page}", f"shop {page or 'overview'}")
    check(shopper_client.get(f"/{slug}/account/privacy/export"), "shop export")
    for page in (
        "/markets",
        "/groups",
        f"/groups/{group.public_id}",
        f"/customers/{world.shopper.public_id}",
    ):
        check(admin_client.get(f"/admin/{slug}{page}"), f"admin {page.split('/')[1]}")
    check(api("GET", "/api/markets?page[size]=25"), "api markets list")
    assert accepted("api order") >= 3 * len(PAYLOADS) - 12


SETTINGS_FORM = ("name", "primary_color", "logo_url", "allowed_origins")


def test_org_settings(app, world, admin_client, shopper_client, anonymous):
    """The org name is in every layout (admin, shopper, email): one admin, one shopper page and, every fifth
    round, the rest and an email."""
    slug = world.org.slug
    token = csrf_from(admin_client.get(f"/admin/{slug}/settings").text)
    harmless = {"name": "Shop", "primary_color": "#1f4fd1", "logo_url": "", "allowed_origins": ""}
    shaped = {"primary_color": 5, "logo_url": 5, "allowed_origins": 5}
    for k, values in rotation(SETTINGS_FORM, every=shaped):
        store(
            "admin settings",
            values,
            lambda v: admin_client.post(f"/admin/{slug}/settings", data={**v, "csrf_token": token}),
            form_refusals,
            harmless.get,
            fixed=harmless,
        )
        check(admin_client.get(f"/admin/{slug}/"), "admin dashboard")
        shop = (
            shopper_client.get(f"/{slug}/account/", headers=HX)
            if k % 2
            else anonymous.get(f"/{slug}/account/login")
        )
        check(shop, "shop overview" if k % 2 else "shop login")
        if k % 5 == 0:
            check(admin_client.get("/admin/"), "admin orgs")
            check(shopper_client.get(f"/{slug}/account/privacy"), "shop privacy")
            reset = admin_client.post(
                f"/admin/{slug}/customers/{world.shopper.public_id}/password-reset",
                data={"csrf_token": token},
            )
            check(reset, "admin password reset")
    # the logo is the shop header's <img src>: only https URLs are taken
    for payload in (p for p in PAYLOADS if p.startswith("https://")):
        store(
            "admin settings",
            {"logo_url": payload},
            lambda v: admin_client.post(f"/admin/{slug}/settings", data={**v, "csrf_token": token}),
            form_refusals,
            harmless.get,
            fixed=harmless,
        )
        get_both(shopper_client, f"/{slug}/account/", "shop overview")
        check(anonymous.get(f"/{slug}/account/login"), "shop login")
    assert check_outbox() >= len(PAYLOADS) // 5
    assert LEDGER["accepted"]["admin settings.name"] >= len(PAYLOADS) - 3
    assert LEDGER["accepted"]["admin settings.logo_url"] >= 1


def test_members_and_applications(world, admin_client):
    slug = world.org.slug
    settings = f"/admin/{slug}/settings"
    token = csrf_from(admin_client.get(settings).text)
    for k, payload in enumerate(PAYLOADS):  # each response is the settings page: keep it short
        store(
            "admin application",
            {"name": payload},
            lambda v, k=k: admin_client.post(
                f"{settings}/applications",
                data={
                    **v,
                    "kind": "integration" if k % 2 else "sales_channel",
                    "role": "read_only",
                    "csrf_token": token,
                },
            ),
            form_refusals,
            lambda f, k=k: f"app {k}",
        )
        if k % 15 == 14:
            for application in staff.applications(world.org):
                staff.revoke_application(SYSTEM, world.org, application)
    for payload in PAYLOADS:
        response, stored = store(
            "admin invite",
            {"email": payload},
            lambda v: admin_client.post(
                f"{settings}/members", data={**v, "role": "read_only", "csrf_token": token}
            ),
            form_refusals,
            lambda f: None,
        )
        if stored:
            check(admin_client.get(settings), "admin settings")  # the flash naming the address
    for k in range(0, len(PAYLOADS), 2):
        email = f"xss-invitee{k}@example.com"
        invited = admin_client.post(
            f"{settings}/members", data={"email": email, "role": "read_only", "csrf_token": token}
        )
        assert invited.status_code == 303, re.findall(r"(?:field-error|flash)[^>]*>([^<]*)", invited.text)
        mail = next(m for m in db.session.scalars(select(OutboxMessage)) if m.recipients == [email])
        link = re.search(r"/admin/invite/[\w-]+", mail.payload["text"]).group()
        invitee = new_client(admin_client.application)
        page = invitee.get(link)
        check(page, "admin invite page")
        invite_token = csrf_from(page.text)
        store(
            "admin invite accept",
            {"first_name": PAYLOADS[k], "last_name": PAYLOADS[(k + 1) % len(PAYLOADS)]},
            lambda v, c=invitee, link=link, t=invite_token: c.post(
                link, data={**v, "password": PASSWORD, "confirm": PASSWORD, "csrf_token": t}
            ),
            form_refusals,
            lambda f: f"ok {f}",
        )
    check(admin_client.get(settings), "admin settings")
    check_outbox()
    assert LEDGER["accepted"]["admin invite.email"] >= 5
    assert accepted("admin invite accept") >= len(PAYLOADS) - 4
    assert LEDGER["accepted"]["admin application.name"] >= len(PAYLOADS) - 3


def test_deletion_rejection_reason(world, admin_client, shopper_client):
    slug = world.org.slug
    shop_token = csrf_from(shopper_client.get(f"/{slug}/account/privacy").text)
    admin_token = csrf_from(admin_client.get(f"/admin/{slug}/privacy").text)
    for k, payload in enumerate(PAYLOADS):
        asked = shopper_client.post(
            f"/{slug}/account/privacy/deletion", data={"csrf_token": shop_token}, headers=HX if k % 2 else {}
        )
        check(asked, "shop deletion request")
        request_id = db.session.scalar(
            select(DeletionRequest.public_id).where(
                DeletionRequest.customer_id == world.shopper.id,
                DeletionRequest.status == DeletionRequestStatus.PENDING,
            )
        )
        store(
            "admin deletion reject",
            {"reason": payload},
            lambda v, p=request_id: admin_client.post(
                f"/admin/{slug}/privacy/deletions/{p}/reject",
                data={f"{p}-reason": v["reason"], f"{p}-csrf_token": admin_token},
            ),
            form_refusals,
            lambda f, k=k: f"reason {k}",
        )
        get_both(shopper_client, f"/{slug}/account/privacy", "shop privacy")
    check_outbox()
    assert LEDGER["accepted"]["admin deletion reject.reason"] >= len(PAYLOADS) - 1


def test_user_agent_on_the_security_page(app, world, shopper_client):
    """The browser's User-Agent header is stored at sign-in and shown on the shopper's security page."""
    slug = world.org.slug
    for payload in PAYLOADS:
        if max(map(ord, payload)) > 0xFF or re.search(r"[\x00-\x08\n\r]", payload):
            continue  # not something a client can send in a header
        browser = new_client(app)
        browser.environ_base["HTTP_USER_AGENT"] = payload
        assert shop_login(browser, slug, world.shopper.email).status_code == 303
        LEDGER["accepted"]["shop login.user_agent"] += 1
    get_both(shopper_client, f"/{slug}/account/security", "shop security")
    assert LEDGER["accepted"]["shop login.user_agent"] >= len(PAYLOADS) - 10


def test_reflected_query_parameters(world, admin_client, anonymous):
    """What is only echoed back, never stored: search boxes, filters, login parameters, the bulk form's return."""
    slug = world.org.slug
    token = csrf_from(admin_client.get(f"/admin/{slug}/customers").text)
    for payload in PAYLOADS:
        searchable = payload.replace("\x00", "")  # refused with 422: test_a_nul_byte_in_a_filter_is_refused…
        get_both(
            admin_client, f"/admin/{slug}/customers?" + _query(q=searchable, status=payload), "admin search"
        )
        get_both(
            admin_client,
            f"/admin/{slug}/audit?" + _query(action=searchable, actor=searchable, resource=searchable),
            "admin audit filter",
        )
        check(admin_client.get(f"/admin/{slug}/customers.csv?" + _query(q=searchable)), "admin csv export")
        check(anonymous.get(f"/{slug}/account/login?" + _query(next=payload, market=payload)), "shop login")
        check(
            admin_client.post(
                f"/admin/{slug}/customers/bulk",
                data={"ids": world.shopper.public_id, "group": "", "back_q": payload, "csrf_token": token},
            ),
            "admin bulk",
        )


def _query(**params: str) -> str:
    return urlencode(params)


@pytest.mark.parametrize("page", ["customers?q=a%00b", "customers.csv?q=a%00b", "audit?action=a%00b"])
def test_a_nul_byte_in_a_filter_is_refused_with_the_field_named(world, admin_client, page):
    """Regression: a NUL reached the database (SQLite FTS5 failed, PostgreSQL refused the parameter)."""
    response = admin_client.get(f"/admin/{world.org.slug}/{page}")
    assert response.status_code == 422
    assert "contains characters that are not allowed" in response.text
