"""BR3 / S11: the XSS corpus (xss_payloads.txt) is stored in every user-controlled text through the shopper pages,
the admin pages and the API, then every page, htmx fragment, export and email that shows it is parsed: a payload
only ever shows up as text.

Payloads rotate over a form's fields (round k puts payload k+i in field i), so after one round per payload every
payload has been in every field. A field that refuses its payload with its own error gets a harmless value and the
form goes again, so one refusal never keeps the other payloads out; the 422 page that refused it is audited too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from portal import db
from portal.models import CustomerAddress
from portal.services import addresses
from portal.services.audit import SYSTEM
from portal.shop.forms import ADDRESS_FIELDS
from tests.factories import make_customer
from tests.security.conftest import csrf_from
from tests.security.xss import (
    HX,
    LEDGER,
    MARKER,
    PAYLOADS,
    Api,
    accepted,
    api_refusals,
    check,
    csv_problems,
    form_refusals,
    get_both,
    html_problems,
    resource,
    rotation,
    store,
)


def test_corpus_covers_the_families():
    markers = [MARKER.findall(p) for p in PAYLOADS]
    assert len(PAYLOADS) >= 50
    assert all(len(set(m)) == 1 for m in markers), "one marker per payload"
    assert len({m[0] for m in markers}) == len(PAYLOADS), "markers are unique"
    text = "\n".join(PAYLOADS).lower()
    for family in (
        "<script",
        "onerror=",
        "onload=",
        "javascript:",
        "data:",
        "hx-get",
        "hx-post",
        "hx-on:",
        "hx-on::",
        'hx-trigger="load"',
        "hx-swap-oob",
        "hx-vals",
        "hx-headers",
        "data-hx-",
        "{{7*7}}",
        "{%",
        "${7*7}",
        "expression(",
        "\n=",
        "\n+",
        "\n-",
        "\n@",
        "\uff1c",
        "\u200b",
        "\u202e",
        "&lt;",
        "&#",
        "<scr<script>",
        "\x00",
        "\r\n",
    ):
        assert family in "\n" + text, family
    assert max(map(len, PAYLOADS)) > 255


def test_the_audit_catches_unescaped_output():
    """The audit can fail: each payload pasted raw into a page is caught; escaped, it passes."""
    from markupsafe import escape

    for payload in PAYLOADS:
        escaped = f'<p>{escape(payload)}</p><input value="{escape(payload)}">'
        assert not html_problems(escaped), payload
        if any(c in payload for c in "<>\"'&"):
            assert html_problems(f'<p>{payload}</p><input value="{payload}">'), payload
    assert html_problems('<a href=" java\tscript:alert(1)//zzx001">x</a>')
    assert html_problems("<p>49zzx039</p>")
    assert html_problems('<div hx-get="//evil.example/zzx026">x</div><p hx-vals=\'{"zzx032": 1}\'>x</p>')
    assert not html_problems('<a href="/admin/x?q=zzx001" hx-get="/admin/x?q=zzx001">next</a>')
    assert csv_problems("id,name\r\n1,=1+1\r\n") and not csv_problems("id,name\r\n1,'=1+1\r\n")


def test_shop_address_book(world, shopper_client, admin_client):
    """In chunks: every response renders the whole address book, so a 90-entry book would cost O(n²)."""
    slug, base = world.org.slug, f"/{world.org.slug}/account"
    token = csrf_from(shopper_client.get(f"{base}/addresses").text)

    def harmless(field):
        return {"country_code": "GB", "phone": "+44 20 7946 0000"}.get(field, f"ok {field}")

    def post(url, headers):
        return lambda values: shopper_client.post(url, data={**values, "csrf_token": token}, headers=headers)

    def book() -> list[CustomerAddress]:
        return list(
            db.session.scalars(select(CustomerAddress).where(CustomerAddress.customer == world.shopper))
        )

    rounds = list(rotation(ADDRESS_FIELDS, every={"country_code": 10}))
    for chunk in range(0, len(rounds), 15):
        for k, values in rounds[chunk : chunk + 15]:
            store(
                "shop address",
                values,
                post(f"{base}/addresses", HX if k % 2 else {}),
                form_refusals,
                harmless,
                fixed={"country_code": "GB"},
            )
        entries = book()
        for k, values in rounds[chunk : chunk + 2]:  # the edit form's 422 and its fragment
            url = f"{base}/addresses/{entries[k % len(entries)].public_id}"
            store(
                "shop address edit",
                values,
                post(url, HX if k % 2 else {}),
                form_refusals,
                harmless,
                fixed={"country_code": "GB"},
            )
        get_both(shopper_client, f"{base}/addresses", "shop addresses")
        for k, entry in enumerate(entries):
            check(
                shopper_client.get(f"{base}/addresses/{entry.public_id}/edit", headers=HX if k % 2 else {}),
                "shop address edit form",
            )
        check(shopper_client.get(f"{base}/privacy/export"), "shop export")
        check(admin_client.get(f"/admin/{slug}/customers/{world.shopper.public_id}"), "admin customer")
        for entry in entries:
            addresses.remove_from_address_book(SYSTEM, world.org, entry)
    for page in ("", "/profile", "/orders", "/privacy", "/security"):
        get_both(shopper_client, f"{base}{page}", f"shop {page or 'overview'}")
    get_both(admin_client, f"/admin/{slug}/audit", "admin audit")
    # every text field takes every payload but the control characters and the 690 characters; postcode, state,
    # country code and phone are shorter or shaped
    for field in ("first_name", "last_name", "company", "line_1", "line_2", "city"):
        assert LEDGER["accepted"][f"shop address.{field}"] >= len(PAYLOADS) - 3, field


def test_api_addresses_in_the_address_book(client, world, shopper_client, admin_client):
    api, slug = Api(client, world.token), world.org.slug
    fields = (*ADDRESS_FIELDS, "email", "notes", "billing_info", "reference", "reference_origin", "metadata")
    for k, values in rotation(fields, every={"country_code": 10}):
        values["metadata"] = {"note": values["metadata"]}
        response, _stored = store(
            "api address",
            values,
            lambda v: api("POST", "/api/addresses", resource("addresses", v)),
            api_refusals,
            lambda f, k=k: {"country_code": "GB", "phone": "+44 1", "email": None, "metadata": {}}.get(
                f, f"ok {k}"
            ),
            fixed={"country_code": "GB"},
        )
        address_id = response.json["data"]["id"]
        store(
            "api address book",
            {"reference": PAYLOADS[k]},
            lambda v, a=address_id: api(
                "POST",
                "/api/customer_addresses",
                resource(
                    "customer_addresses",
                    v,
                    customer=("customers", world.shopper.public_id),
                    address=("addresses", a),
                ),
            ),
            api_refusals,
            lambda f: None,
        )
        if k % 15 == 14 or k == len(PAYLOADS) - 1:
            get_both(shopper_client, f"/{slug}/account/addresses", "shop addresses")
            check(shopper_client.get(f"/{slug}/account/privacy/export"), "shop export")
            check(admin_client.get(f"/admin/{slug}/customers/{world.shopper.public_id}"), "admin customer")
            check(api("GET", "/api/customer_addresses?include=address&page[size]=25"), "api address book")
            for entry in list(
                db.session.scalars(select(CustomerAddress).where(CustomerAddress.customer == world.shopper))
            ):
                addresses.remove_from_address_book(SYSTEM, world.org, entry)
    for field in ("first_name", "line_1", "city", "notes", "billing_info", "reference"):
        assert LEDGER["accepted"][f"api address.{field}"] >= len(PAYLOADS) - 3, field


CUSTOMER_API = (
    "email",
    "shopper_reference",
    "profile_id",
    "tax_exemption_code",
    "reference",
    "reference_origin",
    "metadata",
)


def _customer_harmless(k: int) -> Callable[[str], Any]:
    return lambda f: {"email": f"ok{k}@example.com", "metadata": {}}.get(f, f"ok-{f}-{k}")


def test_api_customers_on_admin_and_shop_pages(client, world, admin_client, shopper_client):
    api, slug = Api(client, world.token), world.org.slug
    for payload in PAYLOADS:  # the shopper's own email, where it is a valid address
        response = api(
            "PATCH",
            f"/api/customers/{world.shopper.public_id}",
            {"data": {"type": "customers", "id": world.shopper.public_id, "attributes": {"email": payload}}},
        )
        check(response, "api customer patch")
        if response.status_code == 200:
            LEDGER["accepted"]["api customer patch.email"] += 1
            for page in ("", "/profile"):
                get_both(shopper_client, f"/{slug}/account{page}", f"shop {page or 'overview'}")
    assert LEDGER["accepted"]["api customer patch.email"] >= 5
    created = []
    for k, values in rotation(CUSTOMER_API):
        values["metadata"] = {values["metadata"]: values["metadata"], "nested": [values["metadata"]]}
        response, stored = store(
            "api customer",
            values,
            lambda v: api("POST", "/api/customers", resource("customers", v)),
            api_refusals,
            _customer_harmless(k),
        )
        attributes = response.json["data"]["attributes"]
        for field in stored - {"email"}:
            assert attributes[field] == (values[field].strip() if field != "metadata" else values[field])
        created.append(response.json["data"]["id"])
    check(api("GET", "/api/customers?page[size]=25&sort=-created_at"), "api customers list")
    get_both(admin_client, f"/admin/{slug}/customers", "admin customers")
    for public_id in created:
        check(admin_client.get(f"/admin/{slug}/customers/{public_id}"), "admin customer")
        check(admin_client.get(f"/admin/{slug}/customers/{public_id}/edit"), "admin customer edit form")
        check(api("GET", f"/api/customers/{public_id}"), "api customer")
    for page in ("/", "/audit", "/privacy"):
        get_both(admin_client, f"/admin/{slug}{page}", f"admin {page}")
    check(
        admin_client.get(f"/admin/{slug}/customers/{created[0]}/anonymization?action=request"),
        "admin anonymize confirm",
    )
    export = admin_client.get(f"/admin/{slug}/customers.csv")
    check(export, "admin csv export")
    cells = {cell for row in csv.reader(io.StringIO(export.text)) for cell in row}
    assert "'=1+1zzx054@example.com" in cells and "'+zzx055@example.com" in cells
    assert accepted("api customer") >= 4 * len(PAYLOADS)


CUSTOMER_FORM = (
    "email",
    "shopper_reference",
    "reference",
    "reference_origin",
    "tax_exemption_code",
    "metadata_json",
)


def test_admin_customer_edit_form(world, admin_client):
    slug = world.org.slug
    token = csrf_from(admin_client.get(f"/admin/{slug}/customers/{world.shopper.public_id}/edit").text)
    customers = [make_customer(world.org) for _ in PAYLOADS]
    for (k, values), customer in zip(rotation(CUSTOMER_FORM), customers, strict=True):
        values["metadata_json"] = json.dumps({"note": values["metadata_json"]})
        url = f"/admin/{slug}/customers/{customer.public_id}/edit"
        store(
            "admin customer edit",
            values,
            lambda v, url=url, k=k: admin_client.post(
                url, data={**v, "csrf_token": token}, headers=HX if k % 2 else {}
            ),
            form_refusals,
            lambda f, k=k: {"metadata_json": "{}"}.get(f, _customer_harmless(k)(f)),
        )
    for k, customer in enumerate(customers):
        check(admin_client.get(f"/admin/{slug}/customers/{customer.public_id}"), "admin customer")
        check(
            admin_client.get(
                f"/admin/{slug}/customers/{customer.public_id}/edit", headers=HX if k % 2 else {}
            ),
            "admin customer edit form",
        )
    get_both(admin_client, f"/admin/{slug}/customers?sort=email", "admin customers")
    check(admin_client.get(f"/admin/{slug}/customers.csv"), "admin csv export")
    for field in ("reference", "reference_origin", "tax_exemption_code", "metadata_json"):
        assert LEDGER["accepted"][f"admin customer edit.{field}"] >= len(PAYLOADS) - 3, field


def test_staff_notes_and_api_attachments(client, world, admin_client):
    """Notes typed in the admin page and attachments sent through the API (name, description, url) are shown on the
    customer page as text; a url payload is stored only when it is an http(s) URL, and then it is a plain link."""
    api, slug = Api(client, world.token), world.org.slug
    page = f"/admin/{slug}/customers/{world.shopper.public_id}"
    token = csrf_from(admin_client.get(page).text)
    for k, values in rotation(("text",)):
        store(
            "admin note",
            values,
            lambda v, k=k: admin_client.post(
                f"{page}/notes", data={**v, "csrf_token": token}, headers=HX if k % 2 else {}
            ),
            form_refusals,
            lambda f, k=k: f"ok note {k}",
        )
    for k, values in rotation(("name", "description", "url")):
        store(
            "api attachment",
            values,
            lambda v: api(
                "POST",
                "/api/attachments",
                resource("attachments", v, attachable=("customers", world.shopper.public_id)),
            ),
            api_refusals,
            lambda f, k=k: {"url": f"https://docs.example/{k}"}.get(f, f"ok {f} {k}"),
        )
    get_both(admin_client, page, "admin customer notes")
    check(
        api("GET", f"/api/customers/{world.shopper.public_id}/attachments?page[size]=25"), "api attachments"
    )
    assert accepted("admin note") >= len(PAYLOADS) - 3
    assert LEDGER["accepted"]["api attachment.description"] >= len(PAYLOADS) - 3
