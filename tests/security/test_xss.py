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
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from portal import db
from portal.models import CustomerAddress, DeletionRequest, Order, OutboxMessage
from portal.models.customers import DeletionRequestStatus
from portal.services import addresses, groups, orgs, search, staff
from portal.services.audit import SYSTEM
from portal.shop.forms import ADDRESS_FIELDS
from tests.factories import PASSWORD, make_customer, make_group
from tests.security.conftest import csrf_from, new_client, shop_login

HX = {"HX-Request": "true"}
MEDIA = "application/vnd.api+json"
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


def load_payloads() -> list[str]:
    text = Path(__file__).with_name("xss_payloads.txt").read_text(encoding="utf-8")
    return [
        _ESCAPE.sub(lambda m: chr(int(next(x for x in m.groups() if x), 16)), line)
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


PAYLOADS = load_payloads()
MARKER = re.compile(r"zzx\d{3}")
# Payloads stored and refused per "channel.field", responses audited per page (the tests assert on the counts).
LEDGER: dict[str, Counter] = {"accepted": Counter(), "rejected": Counter(), "pages": Counter()}

# --- the audit -------------------------------------------------------------------------------------------------

TEXT_ATTRS = {"value", "title", "alt", "aria-label", "placeholder"}
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset"}
SAFE_SCHEMES = {"", "http", "https", "mailto"}
# htmx request attributes: a same-origin path built by url_for may carry a search term (URL-encoded).
HX_URL_ATTRS = {"hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", "hx-push-url"}
# What an evaluated template probe renders: 7*7, a repeated loop body, the config or class dumps.
EVALUATED = ("49zzx", "zzx041zzx041", "config {", "secret_key", "<class '", "&lt;class &#39;")
RAW = sorted(
    {
        (MARKER.search(p).group(), v)
        for p in PAYLOADS
        for v in (p.strip(), p.strip().lower())
        if any(c in p for c in "<>\"'&")
    }
)


def _scheme(url: str) -> str:
    """The scheme a browser would see: it drops tabs and newlines anywhere and C0/space at both ends."""
    url = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(33))))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    return match.group(1).lower() if match else ""


class Audit(HTMLParser):
    """Every place where a browser would run a marker or treat it as markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.raw_text: str | None = None  # inside <script> or <style>

    def _flag(self, where: str, text: str) -> None:
        if MARKER.search(text.lower()):
            self.problems.append(f"{where}: {text[:100]!r}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flag("element name", tag)
        for name, value in attrs:
            self._flag(f"attribute name on <{tag}>", name)
            if name.startswith("on"):  # the templates have no inline handlers (the CSP forbids them)
                self.problems.append(f"<{tag} {name}={value!r}>")
            value = value or ""
            if not MARKER.search(value.lower()) or name in TEXT_ATTRS:
                continue
            if name in URL_ATTRS and _scheme(value) in SAFE_SCHEMES:
                continue
            if name in HX_URL_ATTRS and value.startswith("/") and not value.startswith("//"):
                continue
            self.problems.append(f"<{tag} {name}={value[:100]!r}>")
        if tag in ("script", "style"):
            self.raw_text = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self.raw_text:
            self.raw_text = None

    def handle_data(self, data: str) -> None:
        if self.raw_text:
            self._flag(f"<{self.raw_text}> content", data)

    def handle_comment(self, data: str) -> None:
        self._flag("comment", data)

    def handle_decl(self, decl: str) -> None:
        self._flag("declaration", decl)

    def unknown_decl(self, data: str) -> None:
        self._flag("declaration", data)

    def handle_pi(self, data: str) -> None:
        self._flag("processing instruction", data)


def html_problems(body: str) -> list[str]:
    audit = Audit()
    audit.feed(body)
    audit.close()
    low = body.lower()
    return (
        audit.problems
        + [f"unescaped payload {marker}" for marker, raw in RAW if raw.lower() in low]
        + [f"template evaluated ({probe})" for probe in EVALUATED if probe in low]
    )


def csv_problems(body: str) -> list[str]:
    return [
        f"formula cell {cell[:60]!r}"
        for row in csv.reader(io.StringIO(body))
        for cell in row
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r")
    ]


def check(response, page: str) -> None:
    """No 5xx; HTML escaped everywhere; CSV cells neutralized; JSON served as JSON, never sniffed."""
    assert response.status_code < 500, f"{page}: {response.status_code}"
    LEDGER["pages"][page] += 1
    body = response.get_data(as_text=True)
    mimetype = response.mimetype
    assert response.headers.get("X-Content-Type-Options") == "nosniff", page
    if mimetype == "text/html":
        problems = html_problems(body)
    elif mimetype == "text/csv":
        problems = csv_problems(body)
    elif mimetype in ("application/json", MEDIA):
        problems = []
        if body:
            json.loads(body)
    else:
        problems = [] if mimetype == "text/plain" else [f"unexpected content type {mimetype}"]
    assert not problems, f"{page}: " + "; ".join(problems[:6])


def check_outbox() -> int:
    """Every queued email: the HTML part audited like a page, no CR/LF smuggled into the subject."""
    messages = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email")))
    for message in messages:
        problems = html_problems(message.payload["html"])
        assert not problems, f"email {message.topic}: " + "; ".join(problems[:6])
        assert not re.search(r"[\r\n]", message.payload["subject"]), message.payload["subject"]
        LEDGER["pages"][f"email {message.topic}"] += 1
    return len(messages)


# --- storing ---------------------------------------------------------------------------------------------------


def rotation(
    fields: Sequence[str], rounds: int | None = None, *, every: dict[str, int] | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Round k: payload k+i in field i. A field in `every` (one that only takes a narrow shape, such as a colour)
    gets a payload every that many rounds only, so its certain refusal does not double every request."""
    n, every = len(PAYLOADS), every or {}
    for k in range(rounds or n):
        yield k, {f: PAYLOADS[(k + i) % n] for i, f in enumerate(fields) if k % every.get(f, 1) == 0}


_FIELD_ERROR = re.compile(r'<p class="field-error" id="([\w-]+)-error">')


def form_refusals(response) -> list[str]:
    """The fields a 422 page marks as invalid (a prefixed form's ids are `<prefix>-<field>`)."""
    return [fid.rsplit("-", 1)[-1] for fid in _FIELD_ERROR.findall(response.get_data(as_text=True))]


def api_refusals(response) -> list[str]:
    return [
        e["source"]["pointer"].rsplit("/", 1)[-1] for e in response.json.get("errors", []) if "source" in e
    ]


def store(
    channel: str,
    values: dict[str, Any],
    submit: Callable[[dict[str, Any]], Any],
    refusals: Callable[[Any], list[str]],
    harmless: Callable[[str], Any],
    fixed: dict[str, Any] | None = None,
) -> tuple[Any, set[str]]:
    """Submit `values` (payloads) with `fixed` (harmless); each field refused with its own error gets a harmless
    value and the rest goes again. Returns the final response and the fields whose payload was stored."""
    pending = set(values)
    values = {**(fixed or {}), **values}
    for _ in range(len(values) + 1):
        response = submit(values)
        check(response, f"{channel} submit")
        if response.status_code < 400:
            for field in pending:
                LEDGER["accepted"][f"{channel}.{field}"] += 1
            return response, pending
        refused = [f for f in refusals(response) if f in pending]
        assert refused, f"{channel}: {response.status_code} without a field error for a payload"
        for field in refused:
            LEDGER["rejected"][f"{channel}.{field}"] += 1
            pending.discard(field)
            values[field] = harmless(field)
        if not pending:
            return response, pending
    raise AssertionError(f"{channel}: still refused with harmless values")


def accepted(channel: str) -> int:
    return sum(n for key, n in LEDGER["accepted"].items() if key.startswith(channel + "."))


class Api:
    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def __call__(self, method: str, path: str, body: Any = None):
        headers = {"Accept": MEDIA, "Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = MEDIA
        return self.client.open(path, method=method, headers=headers, data=json.dumps(body) if body else None)


def resource(type_: str, attributes: dict, **relationships: tuple[str, str]) -> dict:
    rels = {name: {"data": {"type": t, "id": i}} for name, (t, i) in relationships.items()}
    return {"data": {"type": type_, "attributes": attributes, **({"relationships": rels} if rels else {})}}


def get_both(client, url: str, page: str) -> None:
    """The page, then the htmx request for it (a fragment where the view has one)."""
    check(client.get(url), page)
    check(client.get(url, headers=HX), f"{page} (htmx)")


# --- the tests -------------------------------------------------------------------------------------------------


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
    all_groups = [grp for grp, _n in search.groups(world.org)]
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
