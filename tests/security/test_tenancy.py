"""Tenant isolation (security.md S2, AC2): two organizations, every home persona, every route with a record id.

1. The id matrix, derived from `app.url_map` (a new id route is covered without editing this file): every id route ×
   every method it accepts × every home persona of its area, with the foreign org's ids, with unknown ids, and (admin)
   with the foreign org's slug → 404, the database unchanged. Writes carry a valid CSRF token (cookie personas) or a
   valid JSON:API document (API). A staff member of both orgs mixing one org's slug with the other's ids → 404.
2. The canary scan: every foreign record carries a marker; every list, search, export, related list and include
   seen by a home persona contains no marker and no foreign public id, and the API's record counts are the home
   org's.
3. References inside a request (JSON:API relationships and attributes, admin form fields) to a foreign record are
   refused and write nothing, while the same request naming the home record succeeds.

The number of (persona, route, method) cases is asserted not to shrink (S2: "must not shrink"), and two tests
break the scoping on purpose to show the matrix and the scan report it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote, quote_plus, urlencode
from uuid import uuid4

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.routing import Rule

from portal import db
from portal.api.registry import include_paths
from portal.api.resources import REGISTRY
from portal.errors import NotFound
from portal.models import (
    Address,
    Application,
    Attachment,
    AuditEvent,
    Customer,
    CustomerAddress,
    CustomerGroup,
    CustomerSubscription,
    DeletionRequest,
    EventCallback,
    LoginSession,
    Market,
    Order,
    OutboxMessage,
    PasswordReset,
    Tag,
    User,
    Webhook,
)
from portal.models.staff import Role
from portal.security import tokens
from portal.security.passwords import hash_password
from portal.security.routes import Policy, policy_of
from portal.services import accounts, addresses, groups, orgs, password_resets
from portal.services.audit import SYSTEM, Actor
from tests.factories import PASSWORD, make_application, make_customer, make_user, token_for
from tests.security.conftest import (
    World,
    admin_login,
    build_world,
    changed_tables,
    csrf_from,
    fingerprint,
    new_client,
    shop_login,
)
from tests.security.test_headers import crawl_rules

MEDIA = "application/vnd.api+json"
UNKNOWN = "unknown0000"
UNKNOWN_INT = 2_147_483_000
NEW_PASSWORD = "tenancy probe passphrase 42"
# The floor of S2's case count; raise it when routes are added, never lower it.
MIN_CASES = 227

# URL arguments that do not identify a record, and rules with ids that no org scopes.
NOT_IDS = {"org_slug", "resource_type", "filename", "_unknown"}  # _unknown: the shop's catch-all for no page
NOT_TENANT_SCOPED = {
    "static": "files",
    "admin.invite_accept": "an invitation is addressed to a person; its URL names no org",
}
# Shop links carry a secret, not an id: the page or the refusal is the same for a foreign and an unknown one.
SECRET_ROUTES = {"shop.verify_email", "shop.confirm_email", "shop.password_reset"}

ADDRESS_FORM = {
    "first_name": "Probe",
    "last_name": "Probe",
    "line_1": "1 Probe Street",
    "city": "London",
    "zip_code": "12345",
    "country_code": "GB",
    "phone": "+44 20 7946 0001",
}
# A valid form for each cookie POST with an id (beside the CSRF token), so a refusal is about the id, not the form.
# `{name}` is replaced by the URL's value of that argument (forms prefixed by the record's id).
FORMS: dict[str, dict[str, str]] = {
    "admin.customer_edit": {"email": "probe@example.com", "shopper_reference": "probe-ref"},
    "admin.customer_group": {"group": ""},
    "admin.customer_anonymize": {"action": "request"},
    "admin.group_edit": {"name": "Probe"},
    "admin.market_update": {"{market_id}-group": ""},
    "admin.deletion_reject": {"{request_id}-reason": "Probe"},
    "admin.member_update": {"{user_id}-role": "admin", "action": "role"},
    "admin.application_update": {"action": "rotate"},
    "admin.customer_tag_add": {"name": "probe"},
    "admin.customer_note_add": {"text": "Probe"},
    "shop.addresses_update": ADDRESS_FORM,
    "shop.password_reset": {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
}
API_ACTIONS = {"GET": "retrieve", "PATCH": "update", "DELETE": "delete"}


# --- the two orgs ------------------------------------------------------------------------------------------------


@dataclass
class Foreign:
    world: World
    canary: str
    secrets: dict[str, str]  # shop endpoint → a live secret of the foreign org for its <token>
    session_id: int  # a live login session of the foreign shopper
    public_ids: set[str] = field(default_factory=set)


def _by_public_id(model, public_id: str):
    return db.session.scalar(select(model).where(model.public_id == public_id))


def mark(world: World, canary: str) -> set[str]:
    """Put the canary in every text a list could show; return every public id of the org's records."""
    org = world.org
    shopper = world.shopper
    shopper.email = f"{canary}-shopper@example.com"
    shopper.shopper_reference = f"{canary}-ref"
    shopper.reference = f"{canary}-reference"
    shopper.metadata_ = {"note": canary}
    entry = _by_public_id(CustomerAddress, world.ids["address_id"])
    for name in ("first_name", "last_name", "line_1", "line_2", "city", "notes"):
        setattr(entry.address, name, f"{canary}-{name}")
    _by_public_id(CustomerGroup, world.ids["group_id"]).name = f"{canary} group"
    _by_public_id(Market, world.ids["market_id"]).name = f"{canary} market"
    order = _by_public_id(Order, world.ids["order_id"])
    order.number, order.reference, order.metadata_ = f"{canary}-1", f"{canary}-order", {"note": canary}
    order.customer_email = shopper.email
    deletion = _by_public_id(DeletionRequest, world.ids["request_id"])
    deletion.customer.email = f"{canary}-leaving@example.com"
    deletion.customer.shopper_reference = f"{canary}-leaving"
    member = _by_public_id(User, world.ids["user_id"])
    member.email, member.first_name = f"{canary}-member@example.com", canary
    world.admin.email, world.admin.last_name = f"{canary}-admin@example.com", canary
    _by_public_id(Application, world.ids["application_id"]).name = f"{canary} app"
    reset = _by_public_id(PasswordReset, world.api_ids["customer_password_resets"])
    reset.reference = f"{canary}-reset"
    hook = _by_public_id(Webhook, world.api_ids["webhooks"])
    hook.name, hook.callback_url = f"{canary} hook", f"http://127.0.0.1:9/{canary}"
    callback = _by_public_id(EventCallback, world.api_ids["event_callbacks"])
    callback.response_message, callback.payload = canary, json.dumps({"note": canary})
    _by_public_id(Tag, world.ids["tag_id"]).name = canary[:25]
    _by_public_id(
        CustomerSubscription, world.api_ids["customer_subscriptions"]
    ).reference_origin = f"{canary}-sub"
    _by_public_id(Attachment, world.ids["note_id"]).description = f"{canary} note"
    db.session.flush()
    owned = [
        Customer,
        CustomerAddress,
        Address,
        CustomerGroup,
        Market,
        Order,
        DeletionRequest,
        Application,
        Webhook,
        EventCallback,
        OutboxMessage,
        Tag,
        CustomerSubscription,
        Attachment,
        AuditEvent,
    ]
    ids = {
        i
        for model in owned
        for i in db.session.scalars(select(model.public_id).where(model.organization_id == org.id))
    }
    return ids | {member.public_id, world.admin.public_id, reset.public_id}


def build_foreign(app: Flask) -> Foreign:
    world = build_world()
    canary = f"qzx{uuid4().hex[:12]}"
    public_ids = mark(world, canary)
    org, shopper = world.org, world.shopper
    _reset, reset_token = password_resets.request_reset(SYSTEM, org, shopper.email)
    secrets = {
        "shop.password_reset": reset_token,
        "shop.verify_email": accounts._issue(
            org,
            "signup",
            0,
            {"email": f"{canary}-new@example.com", "password_hash": hash_password(PASSWORD)},
        ),
        "shop.confirm_email": accounts._issue(
            org, "change_email", shopper.id, {"email": f"{canary}-2@example.com"}
        ),
    }
    assert shop_login(new_client(app), org.slug, shopper.email).status_code == 303
    session_id = db.session.scalar(
        select(func.max(LoginSession.id)).where(
            LoginSession.principal_type == "customer", LoginSession.principal_id == shopper.id
        )
    )
    return Foreign(world, canary, secrets, session_id, public_ids)


# --- home personas -----------------------------------------------------------------------------------------------

# name → area; the staff and token personas' roles are in sign_in.
PERSONAS = {
    "shopper": "shop",
    "admin": "admin",
    "read_only": "admin",
    "both_orgs_admin": "admin",  # an admin of the home *and* the foreign org
    "integration": "api",
    "read_only_integration": "api",
    "customer": "api",  # a sales-channel token owned by the home shopper
}


@dataclass
class Persona:
    name: str
    client: FlaskClient
    role: Role | None = None  # staff role in the home org
    token: str | None = None
    csrf: str = ""

    @property
    def area(self) -> str:
        return PERSONAS[self.name]

    def headers(self, hx: bool = False) -> dict[str, str]:
        headers = {"HX-Request": "true"} if hx else {}
        if self.token:
            headers |= {"Authorization": f"Bearer {self.token}", "Accept": MEDIA}
        return headers


def sign_in(app: Flask, name: str, home: World, foreign: Foreign) -> Persona:
    client = new_client(app)
    slug = home.org.slug
    if name == "shopper":
        assert shop_login(client, slug, home.shopper.email).status_code == 303
        return Persona(name, client, csrf=csrf_from(client.get(f"/{slug}/account/profile").text))
    if PERSONAS[name] == "admin":
        role = Role.READ_ONLY if name == "read_only" else Role.ADMIN
        user = make_user(home.org, role.value)
        if name == "both_orgs_admin":
            orgs.set_membership(SYSTEM, foreign.world.org, user, "admin")
        assert admin_login(client, user.email).status_code == 303
        return Persona(name, client, role, csrf=csrf_from(client.get(f"/admin/{slug}/settings").text))
    if name == "integration":
        return Persona(name, client, token=home.token)
    if name == "read_only_integration":
        application, _secret = make_application(home.org, "integration", "read_only")
        return Persona(name, client, token=token_for(application))
    sales_channel, _secret = make_application(home.org, "sales_channel")
    return Persona(name, client, token=token_for(sales_channel, home.shopper))


@pytest.fixture()
def orgs_pair(app: Flask, client) -> tuple[World, Foreign]:
    """The home org (the security world) and a foreign org with canaries (`client`: limiter reset, transaction)."""
    return build_world(), build_foreign(app)


# --- the id matrix -----------------------------------------------------------------------------------------------


def area_of(rule: Rule) -> str:
    return rule.endpoint.split(".")[0]


def id_args(rule: Rule) -> set[str]:
    return set(rule.arguments) - NOT_IDS - set(rule.defaults or {})


def id_rules(app: Flask) -> list[Rule]:
    """Every rule with an argument naming a record, except the few listed in NOT_TENANT_SCOPED."""
    return [r for r in crawl_rules(app) if id_args(r) and r.endpoint not in NOT_TENANT_SCOPED]


@dataclass
class Case:
    persona: str
    method: str
    rule: Rule
    variant: str  # foreign | unknown | foreign slug | mixed (see `variants`)
    path: str
    expected: int  # 0: a secret route, compared with the unknown secret's answer instead
    form: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    echoed: tuple[str, ...] = ()  # what the request names itself: no leak when an error page repeats it

    def where(self) -> str:
        return f"{self.persona}: {self.method} {self.path} ({self.variant}, {self.rule.endpoint})"


def _resource_type(rule: Rule) -> str:
    return (rule.defaults or {}).get("resource_type", "")


def _values(rule: Rule, world: World | None, foreign: Foreign | None) -> Iterator[dict[str, object]]:
    """URL values with every id taken from `world` (unknown ids when None); one per relationship name."""
    values: dict[str, object] = {}
    for name in id_args(rule) - {"relationship"}:
        if rule.endpoint in SECRET_ROUTES and name == "token":
            values[name] = foreign.secrets[rule.endpoint] if foreign else UNKNOWN
        elif name == "session_id":
            values[name] = foreign.session_id if foreign else UNKNOWN_INT
        elif name == "resource_id":
            values[name] = world.api_ids[_resource_type(rule)] if world else UNKNOWN
        else:
            values[name] = world.ids[name] if world else UNKNOWN
    if "relationship" not in id_args(rule):
        yield values
        return
    for relationship in REGISTRY[_resource_type(rule)].rel_map or ["unknown"]:
        yield {**values, "relationship": relationship}


def _build(rule: Rule, slug: str, values: dict[str, object]) -> str:
    arguments = {**values, **({"org_slug": slug} if "org_slug" in rule.arguments else {})}
    if "_unknown" in rule.arguments:
        arguments["_unknown"] = "no-such-page"  # the shop's catch-all: its 404 page is crawled too
    built = rule.build(arguments, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def variants(persona: Persona, rule: Rule, home: World, foreign: Foreign) -> list[tuple]:
    """(name, URL slug, world the ids come from, foreign secrets) for each kind of wrong URL."""
    result = [
        ("foreign", home.org.slug, foreign.world, foreign),  # this org's slug, the other org's ids
        ("unknown", home.org.slug, None, None),
    ]
    if persona.area == "api" or rule.endpoint in SECRET_ROUTES:
        return result  # the API takes the org from the token; a secret is the foreign org's own link there
    if persona.name == "both_orgs_admin":
        # the other org's slug, which this user may open too, with this org's ids
        return [*result, ("mixed", foreign.world.org.slug, home, None)]
    return [*result, ("foreign slug", foreign.world.org.slug, foreign.world, foreign)]


def expected_status(app: Flask, persona: Persona, context, rule: Rule, method: str, variant: str) -> int:
    """404 wherever the persona may use the route. A refusal by role or token kind comes before the id is read and
    does not depend on it: 403 for read-only staff on admin-only pages, 401 for a token kind the resource refuses
    (Commerce Layer's answer). An org the staff user is not a member of is 404 before any role check."""
    if rule.endpoint in SECRET_ROUTES:
        return 0
    if persona.area == "shop":
        return 302 if variant == "foreign slug" else 404  # another org's shop sees no session: its login page
    if persona.area == "admin":
        admin_only = policy_of(app.view_functions[rule.endpoint]) is Policy.STAFF_ADMIN
        refused = admin_only and persona.role is not Role.ADMIN and variant != "foreign slug"
        return 403 if refused else 404
    return 404 if REGISTRY[_resource_type(rule)].allowed(context, API_ACTIONS[method]) else 401


def _request_data(rule: Rule, method: str, values: dict, persona: Persona) -> tuple[dict, dict | None]:
    if method == "POST":
        template = FORMS.get(rule.endpoint, {})
        form = {k.format(**values): v.format(**values) for k, v in template.items()}
        return {**form, "csrf_token": persona.csrf}, None
    if method == "PATCH":
        data = {
            "type": _resource_type(rule),
            "id": values["resource_id"],
            "attributes": {"reference": "probe"},
        }
        return {}, {"data": data}
    return {}, None


def cases(app: Flask, persona: Persona, home: World, foreign: Foreign) -> list[Case]:
    context = tokens.verify(persona.token) if persona.token else None
    result = []
    for rule in id_rules(app):
        if area_of(rule) != persona.area:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for variant, slug, world, secrets in variants(persona, rule, home, foreign):
                for values in _values(rule, world, secrets):
                    expected = expected_status(app, persona, context, rule, method, variant)
                    form, body = _request_data(rule, method, values, persona)
                    path = _build(rule, slug, values)
                    echoed = (path, *(str(v) for v in values.values()))
                    result.append(
                        Case(persona.name, method, rule, variant, path, expected, form, body, echoed)
                    )
    return result


def send(persona: Persona, case: Case):
    headers = persona.headers()
    if case.body is not None:
        headers["Content-Type"] = MEDIA
        return persona.client.open(case.path, method=case.method, headers=headers, data=json.dumps(case.body))
    data = case.form if case.method == "POST" else None
    return persona.client.open(case.path, method=case.method, headers=headers, data=data)


def leaks(text: str, foreign: Foreign, *, echoed: tuple[str, ...] = ()) -> list[str]:
    """The foreign canary (any case) and public ids (exact) in `text`, minus what the request itself echoes."""
    for value in sorted(echoed, key=len, reverse=True):
        for form in {value, quote_plus(value), quote(value, safe=""), escape(value), json.dumps(value)[1:-1]}:
            text = text.replace(form, "")
    found = [foreign.canary] if foreign.canary in text.lower() else []
    return found + sorted(i for i in foreign.public_ids if i in text)


def run_matrix(persona: Persona, all_cases: list[Case], foreign: Foreign) -> list[str]:
    problems = []
    secret_answers: dict[tuple[str, str], int] = {}
    before = fingerprint()
    for case in all_cases:
        response = send(persona, case)
        body = response.get_data(as_text=True)
        response.close()
        after = fingerprint()
        if changed := changed_tables(before, after):
            problems.append(f"{case.where()} → {response.status_code} changed {changed}")
            before = after
        status = response.status_code
        if case.expected and status != case.expected:
            problems.append(f"{case.where()} → {status}, expected {case.expected}")
        if case.variant != "mixed" and (found := leaks(body, foreign, echoed=case.echoed)):
            problems.append(f"{case.where()} → {status} shows foreign {found}")
        if case.expected == 302 and "/account/login" not in response.headers.get("Location", ""):
            problems.append(f"{case.where()} → redirect to {response.headers.get('Location')!r}, not a login")
        if case.expected == 0:  # a secret: the foreign one (asked first) answers like an unknown one
            first = secret_answers.setdefault((case.method, case.rule.rule), status)
            if first != status:
                problems.append(f"{case.where()} → {status}, but {first} for the other secret")
            if case.method == "POST" and status < 400:
                problems.append(f"{case.where()} → {status}: the secret was accepted")
    return problems


@pytest.mark.parametrize("persona_name", list(PERSONAS))
def test_foreign_and_unknown_ids_are_not_found_and_change_nothing(app, orgs_pair, persona_name):
    home, foreign = orgs_pair
    persona = sign_in(app, persona_name, home, foreign)
    all_cases = cases(app, persona, home, foreign)
    assert all_cases, f"no id routes for {persona_name}"
    problems = run_matrix(persona, all_cases, foreign)
    assert not problems, f"{len(problems)} of {len(all_cases)} requests:\n" + "\n".join(problems)


def test_the_matrix_covers_every_id_route_and_does_not_shrink(app, orgs_pair):
    home, foreign = orgs_pair
    every = [c for name in PERSONAS for c in cases(app, sign_in(app, name, home, foreign), home, foreign)]
    triples = {(c.persona, c.method, c.rule.rule) for c in every}
    assert {c.rule.rule for c in every} == {r.rule for r in id_rules(app)}, "an id route no persona reaches"
    assert set(NOT_TENANT_SCOPED) <= set(app.view_functions), "an exemption names an endpoint that is gone"
    assert len(triples) >= MIN_CASES, f"{len(triples)} (persona, method, route) cases, {len(every)} requests"
    print(
        f"\nS2: {len(id_rules(app))} id rules, {len(PERSONAS)} personas, {len(triples)} cases, {len(every)} requests"
    )


# --- the canary scan ---------------------------------------------------------------------------------------------


def listing_paths(app: Flask, persona: Persona, home: World, foreign: Foreign) -> list[tuple[str, tuple]]:
    """(path, its query values) for every GET page of the persona's area without an id, and the searches, CSV
    exports and audit filters that would match the foreign canaries."""
    slug, theirs, shopper = home.org.slug, foreign.world.ids, foreign.world.shopper
    paths = [
        (_build(rule, slug, {}), ())
        for rule in crawl_rules(app)
        if "GET" in rule.methods and area_of(rule) == persona.area and not id_args(rule)
    ]
    if persona.area != "admin":
        return paths
    searches = [
        {"q": foreign.canary},
        {"q": shopper.email},
        {"q": shopper.email, "match": "prefix"},
        {"q": shopper.shopper_reference},
        {"q": shopper.reference},
        {"group": theirs["group_id"]},
        {"sort": "email"},
        {"sort": "oldest", "kind": "registered"},
    ]
    for args in searches:
        for page in ("customers", "customers.csv"):
            paths.append((f"/admin/{slug}/{page}?{urlencode(args)}", tuple(args.values())))
    for args in (
        {"actor": theirs["user_id"]},
        {"resource": theirs["customer_id"]},
        {"resource": "customers"},
    ):
        paths.append((f"/admin/{slug}/audit?{urlencode(args)}", tuple(args.values())))
    return paths


def api_scan(persona: Persona, home: World, foreign: Foreign) -> list[tuple[str, int | None]]:
    """(path, the expected record_count or None): every list with every include, filters that would match a
    canary or a foreign id, and each home record with its includes, related lists and linkage."""
    theirs, canary = foreign.world.api_ids, foreign.canary
    scan: list[tuple[str, int | None]] = []
    for resource in REGISTRY.values():
        base = f"/api/{resource.type}"
        include = urlencode({"include": ",".join(include_paths(resource))} if resource.rels else {})
        in_home = db.session.scalar(
            select(func.count())
            .select_from(resource.model)
            .where(resource.model.organization_id == home.org.id)
        )
        scan.append((f"{base}?{include}", in_home if persona.name != "customer" else None))
        filters = {"id_eq": theirs[resource.type], "id_in": ",".join(sorted(foreign.public_ids))}
        for attr in resource.attrs:
            if attr.filterable and attr.kind == "string" and attr.name != "id":
                filters[f"{attr.name}_cont"] = canary
            if attr.filterable and attr.kind == "object":
                filters[f"{attr.name}_jcont"] = json.dumps({"note": canary})
        if "customer_group_id" in resource.attr_map:
            filters["customer_group_id_eq"] = theirs["customer_groups"]
        if "customer_id" in resource.attr_map:
            filters["customer_id_eq"] = theirs["customers"]
        for predicate, value in filters.items():
            scan.append((f"{base}?{urlencode({f'filter[q][{predicate}]': value})}&{include}", 0))
        mine = home.api_ids[resource.type]
        scan.append((f"{base}/{mine}?{include}", None))
        for relationship in resource.rel_map:
            scan += [
                (f"{base}/{mine}/{relationship}", None),
                (f"{base}/{mine}/relationships/{relationship}", None),
            ]
    return scan


def api_problems(where: str, response, count: int | None, foreign: Foreign, persona: Persona) -> list[str]:
    if persona.name == "customer" and response.status_code in (401, 404):
        return []  # a resource a customer token may not read, or a home record it does not own
    if response.status_code != 200:
        return [f"{where}: expected 200"]
    document = response.json
    problems = []
    shown = json.dumps({k: v for k, v in document.items() if k != "links"})  # links repeat the query
    if found := leaks(shown, foreign):
        problems.append(f"{where} shows foreign {found}")
    if "record_count" in document.get("meta", {}):
        record_count, rows = document["meta"]["record_count"], len(document["data"])
        if count is not None and record_count != count:
            problems.append(f"{where}: record_count {record_count}, the home org has {count}")
        if count is None and record_count != rows:
            problems.append(f"{where}: record_count {record_count} for {rows} rows")
    return problems


@pytest.mark.parametrize("persona_name", list(PERSONAS))
def test_no_foreign_record_in_any_list_search_or_export(app, orgs_pair, persona_name):
    home, foreign = orgs_pair
    persona = sign_in(app, persona_name, home, foreign)
    problems, requests = [], 0
    if persona.area == "api":
        for path, count in api_scan(persona, home, foreign):
            response = persona.client.get(path, headers=persona.headers())
            requests += 1
            problems += api_problems(
                f"{persona.name}: GET {path} → {response.status_code}", response, count, foreign, persona
            )
    else:
        for path, echoed in listing_paths(app, persona, home, foreign):
            for hx in (False, True):
                response = persona.client.get(path, headers=persona.headers(hx))
                body = response.get_data(as_text=True)
                response.close()
                requests += 1
                where = f"{persona.name}{' (htmx)' if hx else ''}: GET {path} → {response.status_code}"
                if response.status_code >= 500:
                    problems.append(f"{where}: server error")
                if found := leaks(body, foreign, echoed=echoed):
                    problems.append(f"{where} shows foreign {found}")
    assert requests >= 20
    print(f"\nS2 scan: {persona.name}, {requests} requests")
    assert not problems, "\n".join(problems)


def test_the_scan_can_fail_the_foreign_org_finds_its_canaries(app, orgs_pair):
    """The same searches made by the foreign org's own admin, token and shopper do show the canaries."""
    _home, foreign = orgs_pair
    their = foreign.world
    slug, canary, customer_id = their.org.slug, foreign.canary, their.ids["customer_id"]
    staff = new_client(app)
    assert admin_login(staff, their.admin.email).status_code == 303
    for page in ("customers", "customers.csv"):
        assert customer_id in staff.get(f"/admin/{slug}/{page}?{urlencode({'q': canary})}").text
    assert canary in staff.get(f"/admin/{slug}/customers?{urlencode({'q': their.shopper.email})}").text
    api = {"Authorization": f"Bearer {their.token}", "Accept": MEDIA}
    listed = staff.get(f"/api/customers?{urlencode({'filter[q][email_cont]': canary})}", headers=api)
    assert listed.json["meta"]["record_count"] == 2
    shop = new_client(app)
    assert shop_login(shop, slug, their.shopper.email).status_code == 303
    assert canary in shop.get(f"/{slug}/account/privacy/export").text


# --- references to foreign records inside a request ----------------------------------------------------------------

# (persona, method, path, attributes, home relationships, probe): the probe (relationship or attribute, name, value
# key) is sent once with the foreign org's value → refused, nothing written; then with the home value → accepted,
# which shows the request was valid but for the reference. Value keys: a JSON:API type (the world's record of it),
# `address` (an address in no address book yet) or `email` (the shopper's).
REFERENCES = [
    (
        "integration",
        "POST",
        "/api/customers",
        {"email": "probe-new@example.com"},
        {},
        ("rel", "customer_group"),
    ),
    ("integration", "PATCH", "/api/customers/{customers}", {}, {}, ("rel", "customer_group")),
    ("integration", "PATCH", "/api/markets/{markets}", {}, {}, ("rel", "customer_group")),
    ("integration", "POST", "/api/orders", {"currency_code": "EUR"}, {}, ("rel", "market")),
    (
        "integration",
        "POST",
        "/api/orders",
        {"currency_code": "EUR"},
        {"market": "markets"},
        ("rel", "customer"),
    ),
    ("integration", "POST", "/api/customer_addresses", {}, {"address": "address"}, ("rel", "customer")),
    ("integration", "POST", "/api/customer_addresses", {}, {"customer": "customers"}, ("rel", "address")),
    (
        "integration",
        "POST",
        "/api/customer_addresses",
        {},
        {"address": "address"},
        ("attr", "customer_email"),
    ),
    ("integration", "POST", "/api/customer_password_resets", {}, {}, ("attr", "customer_email")),
    ("customer", "POST", "/api/customer_addresses", {}, {}, ("rel", "address")),
    ("admin", "POST", "/admin/{org}/customers/{customer_id}/group", {}, {}, ("form", "group")),
    ("admin", "POST", "/admin/{org}/markets/{market_id}", {}, {}, ("form", "{market_id}-group")),
    (
        "admin",
        "POST",
        "/admin/{org}/customers/bulk",
        {"group": "{group_id}", "confirmed": "y"},
        {},
        ("form", "ids"),
    ),
    (
        "admin",
        "POST",
        "/admin/{org}/customers/bulk-tag",
        {"tag": "{tag_id}", "action": "add", "confirmed": "y"},
        {},
        ("form", "ids"),
    ),
    (
        "admin",
        "POST",
        "/admin/{org}/customers/bulk-tag",
        {"ids": "{customer_id}", "action": "add", "confirmed": "y"},
        {},
        ("form", "tag"),
    ),
    ("integration", "POST", "/api/attachments", {"name": "Probe"}, {}, ("rel", "attachable")),
    (
        "integration",
        "POST",
        "/api/customer_subscriptions",
        {"reference": "probe"},
        {},
        ("attr", "customer_email"),
    ),
]
REFERENCE_KEYS = {
    "customer_group": "customer_groups",
    "market": "markets",
    "customer": "customers",
    "address": "address",
    "customer_email": "email",
    "group": "customer_groups",
    "{market_id}-group": "customer_groups",
    "ids": "customers",
    "attachable": "customers",
    "tag": "tags",
}
RELATED_TYPES = {
    "customer_group": "customer_groups",
    "market": "markets",
    "customer": "customers",
    "attachable": "customers",
}


def _reference_values(world: World) -> dict[str, str]:
    """A world's value for each reference key; `address` is a fresh address in no address book, created by the
    world's shopper (a customer token may link only its own)."""
    free = addresses.create_address(
        Actor.of_customer(world.shopper), world.org, {k: v for k, v in ADDRESS_FORM.items()}
    )
    db.session.flush()
    return {**world.api_ids, "address": free.public_id, "email": world.shopper.email}


def _reference_request(
    persona: Persona, row: tuple, home: World, mine: dict, probe: dict
) -> tuple[str, dict]:
    """The row's URL and form or document: `probe` gives the probed reference, `mine` every other one."""
    _who, method, path, attributes, relationships, (kind, name) = row
    url_values = {**home.api_ids, **home.ids, "org": home.org.slug}
    url = path.format(**url_values)
    value = probe[REFERENCE_KEYS[name]]
    if kind == "form":
        form = {k.format(**url_values): v.format(**url_values) for k, v in attributes.items()}
        return url, {**form, name.format(**url_values): value, "csrf_token": persona.csrf}
    data: dict = {"type": path.split("/")[2], "attributes": dict(attributes)}
    if method == "PATCH":
        data["id"] = url.rsplit("/", 1)[1]
    references = {rel: mine[key] for rel, key in relationships.items()}
    if kind == "attr":
        data["attributes"][name] = value
    else:
        references[name] = value
    if references:
        data["relationships"] = {
            rel: {"data": {"type": RELATED_TYPES.get(rel, "addresses"), "id": public_id}}
            for rel, public_id in references.items()
        }
    return url, {"data": data}


def _send_reference(persona: Persona, method: str, url: str, payload: dict):
    if "csrf_token" in payload:
        return persona.client.post(url, data=payload)
    headers = {**persona.headers(), "Content-Type": MEDIA}
    return persona.client.open(url, method=method, headers=headers, data=json.dumps(payload))


@pytest.mark.parametrize("row", REFERENCES, ids=[f"{r[0]} {r[1]} {r[2]} {r[5][1]}" for r in REFERENCES])
def test_a_reference_to_a_foreign_record_is_refused_and_writes_nothing(app, orgs_pair, row):
    home, foreign = orgs_pair
    persona = sign_in(app, row[0], home, foreign)
    mine, theirs = _reference_values(home), _reference_values(foreign.world)
    where = f"{persona.name}: {row[1]} {row[2]} with the foreign {row[5][1]}"
    before = fingerprint()
    response = _send_reference(persona, row[1], *_reference_request(persona, row, home, mine, theirs))
    changed = changed_tables(before, fingerprint())
    status, body = response.status_code, response.get_data(as_text=True)
    assert not changed, f"{where} → {status} changed {changed}"
    assert status < 500 and (row[5][0] == "form" or 400 <= status < 500), f"{where} → {status}"
    assert not leaks(body, foreign, echoed=tuple(theirs.values())), (
        f"{where} → {status} shows a foreign record"
    )
    before = fingerprint()  # the control: the same request naming the home record is valid and writes
    response = _send_reference(persona, row[1], *_reference_request(persona, row, home, mine, mine))
    assert response.status_code < 400 and changed_tables(before, fingerprint()), response.get_data(
        as_text=True
    )


def test_a_reset_token_completes_only_its_own_reset(app, orgs_pair):
    """PATCH /api/customer_password_resets/<id> with the token of another reset (same org or foreign) is refused."""
    home, foreign = orgs_pair
    persona = sign_in(app, "integration", home, foreign)
    reset, token = password_resets.request_reset(SYSTEM, home.org, home.shopper.email)
    other = make_customer(home.org, password=NEW_PASSWORD)
    _other_reset, other_token = password_resets.request_reset(SYSTEM, home.org, other.email)
    headers = {**persona.headers(), "Content-Type": MEDIA}

    def patch(raw_token: str):
        attributes = {"_reset_password_token": raw_token, "customer_password": "a brand new passphrase 7"}
        document = {
            "data": {"type": "customer_password_resets", "id": reset.public_id, "attributes": attributes}
        }
        url = f"/api/customer_password_resets/{reset.public_id}"
        return persona.client.patch(url, headers=headers, data=json.dumps(document))

    for label, raw_token in (
        ("another reset's", other_token),
        ("the foreign org's", foreign.secrets["shop.password_reset"]),
    ):
        before = fingerprint()
        response = patch(raw_token)
        assert response.status_code == 422, f"{label} token → {response.status_code}"
        assert not changed_tables(before, fingerprint()), f"{label} token changed the database"
    assert patch(token).status_code == 200


# --- the checks can fail -----------------------------------------------------------------------------------------


def test_an_unscoped_lookup_is_reported_by_the_matrix(app, orgs_pair, monkeypatch):
    """Drop the org from one service lookup: the matrix names persona, method, URL and the foreign record seen."""

    def any_orgs_group(org, public_id):
        group = db.session.scalar(select(CustomerGroup).where(CustomerGroup.public_id == public_id))
        if group is None:
            raise NotFound("The requested resource was not found", field="id")
        return group

    monkeypatch.setattr(groups, "get_group", any_orgs_group)
    home, foreign = orgs_pair
    persona = sign_in(app, "admin", home, foreign)
    group_cases = [
        c for c in cases(app, persona, home, foreign) if c.rule.endpoint.startswith("admin.group_")
    ]
    report = "\n".join(run_matrix(persona, group_cases, foreign))
    group_id = foreign.world.ids["group_id"]
    assert (
        f"admin: GET /admin/{home.org.slug}/groups/{group_id} (foreign, admin.group_detail) → 200" in report
    )
    assert f"shows foreign ['{foreign.canary}'" in report
    assert "admin.group_delete) → 303 changed ['audit_events', 'customer_groups']" in report, report


def test_an_unscoped_api_query_is_reported_by_the_scan(app, orgs_pair, monkeypatch):
    home, foreign = orgs_pair
    monkeypatch.setattr(REGISTRY["customer_groups"], "query", lambda ctx: select(CustomerGroup))
    persona = sign_in(app, "integration", home, foreign)
    response = persona.client.get("/api/customer_groups", headers=persona.headers())
    report = api_problems("GET /api/customer_groups", response, 1, foreign, persona)
    assert any(foreign.canary in problem for problem in report), report
    assert any("record_count" in problem for problem in report), report


def test_a_foreign_member_is_not_found_before_the_form_is_read(app, orgs_pair):
    """Regression: an empty role form with another org's user id answered 422 (form first), not 404."""
    home, foreign = orgs_pair
    browser = new_client(app)
    assert admin_login(browser, home.admin.email).status_code == 303
    token = csrf_from(browser.get(f"/admin/{home.org.slug}/settings").text)
    before = fingerprint()
    for user_id in (foreign.world.ids["user_id"], "unknown"):
        path = f"/admin/{home.org.slug}/settings/members/{user_id}"
        assert browser.post(path, data={"csrf_token": token}).status_code == 404, user_id
    assert changed_tables(before, fingerprint()) == []
