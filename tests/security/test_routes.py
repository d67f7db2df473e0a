"""Route policies (security.md S1): every route declares who may call it, the declarations match the reviewed
snapshot routes.txt, and they are true: every caller outside a route's policy is refused, by every method."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from portal.api.jsonapi import MEDIA_TYPE
from portal.security.routes import Policy, policy_of, routes
from tests.factories import make_user
from tests.security.conftest import World, admin_login, csrf_from
from tests.security.test_headers import rule_path

SNAPSHOT = Path(__file__).with_name("routes.txt")
REGENERATE = "PORTAL_UPDATE_ROUTES=1 .venv/bin/pytest tests/security/test_routes.py"

# How a refusal looks: a status and, for a redirect, the login page it goes to.
SHOP_LOGIN = (302, "/{org_slug}/account/login")
ADMIN_LOGIN = (303, "/admin/login")
UNAUTHORIZED = (401, None)
FORBIDDEN = (403, None)

# Who is refused on which policy's routes, and how. A session never passes for a token (the API ignores cookies).
REFUSALS = {
    ("anonymous", Policy.SHOPPER): SHOP_LOGIN,
    ("anonymous", Policy.STAFF): ADMIN_LOGIN,
    ("anonymous", Policy.STAFF_MEMBER): ADMIN_LOGIN,
    ("anonymous", Policy.STAFF_ADMIN): ADMIN_LOGIN,
    ("anonymous", Policy.BEARER): UNAUTHORIZED,
    ("anonymous", Policy.BEARER_USER): UNAUTHORIZED,
    # The shopper's session lives in the shop's own cookie (portal/security/cookies.py): staff pages see no one.
    ("shopper", Policy.STAFF): ADMIN_LOGIN,
    ("shopper", Policy.STAFF_MEMBER): ADMIN_LOGIN,
    ("shopper", Policy.STAFF_ADMIN): ADMIN_LOGIN,
    ("shopper", Policy.BEARER): UNAUTHORIZED,
    ("staff admin", Policy.SHOPPER): SHOP_LOGIN,
    ("staff admin", Policy.BEARER): UNAUTHORIZED,
    ("staff read_only", Policy.STAFF_ADMIN): FORBIDDEN,
    ("integration token", Policy.BEARER_USER): UNAUTHORIZED,
    # The metrics token is the operator's alone: no session and no API token stands in for it.
    ("anonymous", Policy.OPERATOR): UNAUTHORIZED,
    ("staff admin", Policy.OPERATOR): UNAUTHORIZED,
    ("integration token", Policy.OPERATOR): UNAUTHORIZED,
}


def test_every_route_declares_a_policy(app):
    unclassified = [str(route) for route in routes(app) if route.policy is None]
    assert not unclassified, (
        "Routes without a policy: guard the view (requires, require_token) or declare it with allow(...):\n"
        + "\n".join(unclassified)
    )


def test_the_route_snapshot_matches_the_app(app):
    live = [str(route) for route in routes(app)]
    if os.environ.get("PORTAL_UPDATE_ROUTES") == "1":
        SNAPSHOT.write_text("\n".join(live) + "\n")
    reviewed = SNAPSHOT.read_text().splitlines()
    diff = "\n".join(difflib.unified_diff(reviewed, live, "routes.txt", "app.url_map", lineterm=""))
    assert not diff, (
        f"The routes changed. Review the diff, then regenerate routes.txt with\n  {REGENERATE}\n{diff}"
    )


def test_every_policy_has_a_refusal_check():
    checked = {policy for _persona, policy in REFUSALS} | {Policy.PUBLIC}
    assert checked == set(Policy)


def caller(request: pytest.FixtureRequest, world: World, persona: str) -> tuple[FlaskClient, dict[str, str]]:
    """A client as `persona`, and the headers it sends."""
    if persona == "shopper":
        return request.getfixturevalue("shopper_client"), {}
    if persona == "staff admin":
        return request.getfixturevalue("admin_client"), {}
    http = request.getfixturevalue("anonymous")
    if persona == "staff read_only":
        assert admin_login(http, make_user(world.org, "read_only").email).status_code == 303
    return http, {"Authorization": f"Bearer {world.token}"} if persona == "integration token" else {}


def shown(status: int, location: str | None) -> str:
    return f"{status} to {location}" if location else str(status)


@pytest.mark.parametrize(("persona", "policy"), REFUSALS)
def test_callers_outside_the_policy_are_refused(request, app, world, persona, policy, monkeypatch):
    monkeypatch.setitem(
        app.config, "METRICS_TOKEN", "operator-" + "x" * 32
    )  # configured: else /metrics is 404
    http, headers = caller(request, world, persona)
    # A token of the area's own session (shop and staff cookies differ), so a refused POST shows the policy, not a
    # CSRF failure.
    login_page = f"/{world.org.slug}/account/login" if policy is Policy.SHOPPER else "/admin/login"
    csrf = csrf_from(http.get(login_page).text)
    status, login = REFUSALS[persona, policy]
    expected = shown(status, login.format(**world.ids) if login else None)
    rules = [
        rule for rule in app.url_map.iter_rules() if policy_of(app.view_functions[rule.endpoint]) is policy
    ]
    assert rules
    wrong = []
    for rule in rules:
        path = rule_path(rule, world)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = http.get(path, headers=headers)
            elif rule.rule.startswith("/api/"):
                response = http.open(path, method=method, data="{}", content_type=MEDIA_TYPE, headers=headers)
            else:
                response = http.open(path, method=method, data={"csrf_token": csrf}, headers=headers)
            seen = shown(response.status_code, urlsplit(response.headers.get("Location", "")).path)
            if seen != expected:
                wrong.append(f"{method} {path} ({rule.endpoint}): {seen}")
    assert not wrong, f"{persona} on {policy} routes, expected {expected}:\n" + "\n".join(wrong)
