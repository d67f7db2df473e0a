"""CSRF on every cookie-authenticated state-changing route (security.md S4): a missing, garbage or foreign token is
refused with 400 and nothing written, as a plain form post and as htmx (which sends the token in `X-CSRFToken`,
from `hx-headers` in layouts/base.html), while the session's own token passes.

The table is derived from the url_map: every POST/PUT/PATCH/DELETE rule outside the bearer-token prefixes, minus
the exemptions listed below with their reason (each reason is tested). A spy on Flask-WTF's `validate_csrf` proves
the check really ran once per request: the TESTING configuration did not switch it off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import flask_wtf.csrf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from wtforms import ValidationError

from portal import create_app
from portal.security.routes import Policy, policy_of
from tests.factories import PASSWORD, make_application, token_for
from tests.security.conftest import STOREFRONT, World, changed_tables, csrf_from, fingerprint, new_client
from tests.security.test_headers import crawl_rules, rule_path

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Bearer tokens only: a cookie authenticates nothing there, so there is nothing to forge (STYLE.md 13).
BEARER_PREFIXES = ("/api/", "/oauth/", "/provisioning/")
EXEMPT = {
    "shop.handoff": "a customer access token in the body authenticates, and only the org's storefront origins "
    "may post (test_handoff_is_exempt_because_the_body_token_and_the_origin_authenticate)",
}

# Public (a stale session may still sign out), but a forged request only matters to someone signed in.
SIGNED_IN_ANYWAY = {"admin.logout": "admin"}

MISSING = "The CSRF token is missing."
GARBAGE = "The CSRF token is invalid."  # not signed by this server
FOREIGN = "The CSRF tokens do not match."  # signed by this server, for another session
HTMX_TOKEN = re.compile(r"""hx-headers='\{"X-CSRFToken": "([^"]+)"\}'""")
NEW_PASSWORD = "quarry-plover-tangent-83"


def state_changing_rules(app: Flask) -> list[Rule]:
    return [rule for rule in crawl_rules(app) if rule.methods & STATE_CHANGING]


def bearer_rules(app: Flask) -> list[Rule]:
    return [rule for rule in state_changing_rules(app) if rule.rule.startswith(BEARER_PREFIXES)]


def cookie_routes(app: Flask) -> list[Rule]:
    return [
        rule
        for rule in state_changing_rules(app)
        if not rule.rule.startswith(BEARER_PREFIXES) and rule.endpoint not in EXEMPT
    ]


# Parametrizing needs the names at collection time, before the `app` fixture exists: a throwaway app (it opens no
# database) gives them, and test_the_table_is_every_cookie_route_of_the_app checks the real app has the same ones.
ROUTES = [rule.endpoint for rule in cookie_routes(create_app({"TESTING": True, "DATABASE_URL": "sqlite://"}))]


def form_body(endpoint: str, world: World) -> dict[str, str]:
    """A body the route accepts, where one is cheap to build, so that a refused request would otherwise have
    worked. Confirmation forms (delete, approve, rotate, sign out...) need nothing but the token."""
    ids = world.ids
    address = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "line_1": "2 Side Street",
        "city": "London",
        "zip_code": "54321",
        "country_code": "GB",
        "phone": "+44 20 7946 0001",
    }
    return {
        "shop.login": {"email": world.shopper.email, "password": PASSWORD},
        "shop.signup": {"email": "csrf-new@example.com", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        "shop.password_forgot": {"email": world.shopper.email},
        "shop.language": {"locale": "it"},
        "shop.password": {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        "shop.profile": {"current_password": PASSWORD, "email": "csrf-moved@example.com"},
        "shop.addresses_create": address,
        "shop.addresses_update": address,
        "admin.login": {"email": world.admin.email, "password": PASSWORD},
        "admin.reauth": {"password": PASSWORD},
        "admin.group_create": {"name": "CSRF group"},
        "admin.group_edit": {"name": "Renamed group"},
        "admin.customer_edit": {"email": "csrf-edited@example.com", "shopper_reference": "csrf-ref"},
        "admin.customer_group": {"group": ids["group_id"]},
        "admin.customers_bulk": {"ids": ids["customer_id"], "group": ids["group_id"], "confirmed": "y"},
        "admin.market_update": {f"{ids['market_id']}-group": ids["group_id"]},
        "admin.deletion_reject": {f"{ids['request_id']}-reason": "Open orders."},
        "admin.member_invite": {"email": "csrf-staff@example.com", "role": "read_only"},
        "admin.member_update": {f"{ids['user_id']}-role": "admin"},
        "admin.application_create": {"name": "CSRF app", "kind": "integration", "role": "admin"},
        "admin.settings_update": {"name": "Renamed org", "primary_color": "#123456"},
    }.get(endpoint, {})


def persona_of(app: Flask, endpoint: str) -> str:
    """Who submits the route's form, by the policy its view declares (portal/security/routes.py)."""
    if endpoint in SIGNED_IN_ANYWAY:
        return SIGNED_IN_ANYWAY[endpoint]
    policy = policy_of(app.view_functions[endpoint])
    if policy is Policy.PUBLIC:
        return "anonymous"
    if policy is Policy.SHOPPER:
        return "shopper"
    assert policy and policy.startswith("staff"), f"{endpoint}: no persona for the policy {policy}"
    return "admin"  # the org's admin may call every staff route


def home_of(persona: str, endpoint: str, world: World) -> str:
    """A page of the persona's area: where its browser gets its token, and afterwards proof the session lives."""
    if persona == "anonymous":
        return f"/{world.org.slug}/account/login" if endpoint.startswith("shop.") else "/admin/login"
    return {"shopper": f"/{world.org.slug}/account/", "admin": f"/admin/{world.org.slug}/customers"}[persona]


@dataclass
class Route:
    endpoint: str
    persona: str
    path: str
    body: dict[str, str]
    client: FlaskClient
    home: str
    form_token: str  # the session's own, from a form on the home page
    htmx_token: str  # the session's own, as htmx sends it (hx-headers on the same page)
    foreign_token: str  # valid, but for another browser's session: an attacker's own token

    def post(self, token: str | None, *, htmx: bool):
        """A form post carries the token in the `csrf_token` field; htmx in the `X-CSRFToken` header."""
        if htmx:
            headers = {"HX-Request": "true", **({"X-CSRFToken": token} if token else {})}
            return self.client.post(self.path, data=self.body, headers=headers)
        return self.client.post(self.path, data={**self.body, **({"csrf_token": token} if token else {})})


@pytest.fixture()
def route(request, app: Flask, world: World) -> Route:
    """The rule named by the parameter, with real ids, and a browser of the persona that could legitimately call
    it, which has opened a page of its area first, as a user would."""
    endpoint = request.param
    rule = next(rule for rule in cookie_routes(app) if rule.endpoint == endpoint)
    persona = persona_of(app, endpoint)
    client = request.getfixturevalue("anonymous" if persona == "anonymous" else f"{persona}_client")
    home = home_of(persona, endpoint, world)
    page = client.get(home)
    assert page.status_code == 200, f"{persona} cannot open {home}"
    attacker = new_client(app)
    foreign = csrf_from(attacker.get(home_of("anonymous", endpoint, world)).text)
    return Route(
        endpoint=endpoint,
        persona=persona,
        path=rule_path(rule, world),
        body=form_body(endpoint, world),
        client=client,
        home=home,
        form_token=csrf_from(page.text),
        htmx_token=HTMX_TOKEN.search(page.text).group(1),
        foreign_token=foreign,
    )


@pytest.fixture()
def csrf_checks(app: Flask, monkeypatch) -> list[str]:
    """Every CSRF validation Flask-WTF performs, as "valid" or its refusal reason (the original still decides)."""
    assert app.config["WTF_CSRF_ENABLED"] is not False
    assert app.config["WTF_CSRF_CHECK_DEFAULT"] is not False
    verdicts: list[str] = []
    original = flask_wtf.csrf.validate_csrf

    def counting(*args, **kwargs):
        try:
            original(*args, **kwargs)
        except ValidationError as error:
            verdicts.append(error.args[0])
            raise
        verdicts.append("valid")

    monkeypatch.setattr(flask_wtf.csrf, "validate_csrf", counting)
    return verdicts


def test_the_table_is_every_cookie_route_of_the_app(app):
    assert [rule.endpoint for rule in cookie_routes(app)] == ROUTES
    assert len(ROUTES) == len(set(ROUTES)), "one rule per endpoint"
    assert {"shop.profile", "shop.logout", "admin.login", "admin.customer_delete"} <= set(ROUTES)
    exempt = [rule for rule in state_changing_rules(app) if rule.endpoint in EXEMPT]
    assert {rule.endpoint for rule in exempt} == set(EXEMPT), "an exemption for a route that no longer exists"
    assert not any(rule.rule.startswith(BEARER_PREFIXES) for rule in exempt)


@pytest.mark.parametrize("route", ROUTES, indirect=True)
def test_a_missing_garbage_or_foreign_token_is_refused_and_writes_nothing(route, csrf_checks):
    for token, reason in [(None, MISSING), ("garbage-token", GARBAGE), (route.foreign_token, FOREIGN)]:
        for htmx in (False, True):
            attempt = f"{route.persona}{' htmx' if htmx else ''} POST {route.path}, expected {reason!r}"
            csrf_checks.clear()
            before = fingerprint()
            response = route.post(token, htmx=htmx)
            assert response.status_code == 400, attempt
            assert reason in response.text, attempt
            assert csrf_checks == [reason], attempt  # the check ran exactly once, and it is what refused
            assert changed_tables(before, fingerprint()) == [], attempt
    assert route.client.get(route.home).status_code == 200, "the refusals cost the session"


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
@pytest.mark.parametrize("route", ROUTES, indirect=True)
def test_the_sessions_own_token_passes(route, csrf_checks, htmx):
    """The control: the same request with the session's own token is not refused, so the refusals above come
    from the token and not from a broken request."""
    response = route.post(route.htmx_token if htmx else route.form_token, htmx=htmx)
    assert csrf_checks == ["valid"]
    assert response.status_code != 400, response.text
    if route.body:  # a working request, which the refusals above stopped from writing
        assert response.status_code < 400, response.text


def test_handoff_is_exempt_because_the_body_token_and_the_origin_authenticate(anonymous, world, csrf_checks):
    application, _secret = make_application(world.org, "sales_channel")
    token = token_for(application, world.shopper)

    def handoff(access_token: str | None, origin: str):
        return anonymous.post(
            f"/{world.org.slug}/account/handoff",
            data={"access_token": access_token} if access_token else {},
            headers={"Origin": origin, "Sec-Fetch-Site": "cross-site"},
        )

    before = fingerprint()
    assert handoff(None, STOREFRONT).status_code == 401
    assert handoff("not-a-token", STOREFRONT).status_code == 401
    assert handoff(token, "https://evil.example").status_code == 403
    assert handoff(token, "null").status_code == 403  # a sandboxed frame or a data: URL
    assert changed_tables(before, fingerprint()) == []
    assert handoff(token, STOREFRONT).status_code == 303  # the body token is what authenticates
    assert csrf_checks == [], "exempt: Flask-WTF never looked for a CSRF token"


def test_bearer_routes_ignore_the_session_cookie(app, admin_client, world, csrf_checks):
    """The bearer prefixes' exemption holds because a cookie gets nothing done there: a signed-in admin's browser
    without an Authorization header is refused, and nothing is written."""
    refused = []
    for rule in bearer_rules(app):
        for method in sorted(rule.methods & STATE_CHANGING):
            path = rule_path(rule, world)
            before = fingerprint()
            response = admin_client.open(
                path, method=method, data="{}", content_type="application/vnd.api+json"
            )
            assert response.status_code in (400, 401), f"{method} {path} → {response.status_code}"
            assert changed_tables(before, fingerprint()) == [], f"{method} {path}"
            refused.append(path)
    assert len(refused) >= 20
    assert csrf_checks == []
