"""Every GET route, crawled as anonymous, shopper, staff admin and API token, plain and as htmx: the security
headers on every response (pages, fragments, redirects, errors, JSON), no 5xx, and no state change
(security.md S4 "GET crawl → 0 DB changes", S5 headers, R1 "0 5xx").

Argument values come from a small org with one of everything; a rule whose argument has no known value gets a
placeholder (and then usually answers 404, whose headers are checked too). Only `static` is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from portal import db
from portal.models import LoginSession
from tests import headers as suite_headers
from tests.headers import API_PREFIXES, parse_csp
from tests.security.conftest import (
    STOREFRONT,
    World,
    changed_tables,
    fingerprint,
)

RELATIONSHIPS = {
    "customers": "customer_group",
    "markets": "customer_group",
    "customer_groups": "customers",
    "customer_addresses": "customer",
    "customer_password_resets": "customer",
    "orders": "customer",
    "addresses": "customer",
}


@dataclass
class Seen:
    persona: str
    path: str
    hx: bool
    status: int
    headers: dict[str, str]

    def where(self) -> str:
        return f"{self.persona}{' (htmx)' if self.hx else ''} GET {self.path} → {self.status}"


def rule_path(rule: Rule, world: World) -> str:
    """The rule with real values for its arguments."""
    values: dict[str, str] = {}
    parts = rule.rule.split("/")
    resource_type = parts[2] if rule.rule.startswith("/api/") and len(parts) > 2 else ""
    for name in rule.arguments:
        if name == "resource_id":
            values[name] = world.api_ids.get(resource_type, "unknown")
        elif name == "relationship":
            values[name] = RELATIONSHIPS.get(resource_type, "customer")
        else:
            values[name] = world.ids.get(name, "unknown")
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def crawl_rules(app: Flask) -> list[Rule]:
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule)


def header_problems(seen: Seen, authenticated: bool, world: World) -> list[str]:
    """The suite-wide header rules (tests/headers.py), no 5xx, and shopper pages framable by the org's origins."""
    h = seen.headers
    problems = suite_headers.header_problems(seen.path, False, h, bearer=authenticated)
    if seen.status >= 500:
        problems.append("server error")
    ancestors = parse_csp(h.get("Content-Security-Policy", "")).get("frame-ancestors")
    if (
        seen.path.startswith(f"/{world.org.slug}/account/")
        and ancestors != [STOREFRONT]
        # a rejected request (e.g. CSRF 400, before the shop guard ran) may be stricter, never looser
        and (seen.status < 400 or ancestors != ["'none'"])
    ):
        problems.append(f"frame-ancestors {ancestors}, expected exactly the org's origins")
    return [f"{seen.where()}: {p}" for p in problems]


def crawl(
    client: FlaskClient,
    persona: str,
    paths: list[str],
    *,
    headers: dict | None = None,
    hx: bool = True,
) -> tuple[list[Seen], list[str]]:
    """GET each path (plain, then htmx); returns what was seen and the problems: crashes and database writes."""
    seen, writes, crashes = [], [], []
    for path in paths:
        for as_hx in (False, True) if hx else (False,):
            extra = {**(headers or {}), **({"HX-Request": "true"} if as_hx else {})}
            before = fingerprint()
            try:
                response = client.get(path, headers=extra)
                response.get_data()  # a streamed body (CSV export) runs to the end before the check
                response.close()
            except Exception as error:  # TESTING propagates exceptions: in production this is a 500
                crashes.append(f"{persona}{' (htmx)' if as_hx else ''} GET {path} raised {error!r}")
                continue
            changed = changed_tables(before, fingerprint())
            if changed:
                writes.append(f"{persona} GET {path} changed {changed}")
            seen.append(Seen(persona, path, as_hx, response.status_code, dict(response.headers)))
    return seen, crashes + writes


def all_paths(app: Flask, world: World) -> list[str]:
    """GET rules, GET on POST-only rules (405 pages), and a few unknown URLs (404 pages of each area)."""
    slug = world.org.slug
    return [rule_path(r, world) for r in crawl_rules(app)] + [
        "/nope",
        "/admin/nope",
        "/api/nope",
        f"/{slug}/account/nope",
        "/no-such-org/account/login",
    ]


def in_session(persona: str, path: str) -> bool:
    """Whether the persona's session cookie reaches `path`: the shopper's (shop cookie) only on shopper pages, the
    staff one everywhere else (portal/security/cookies.py)."""
    if persona == "shopper":
        return path.split("/")[2:3] == ["account"]
    return persona != "anonymous"


def test_the_crawl_covers_every_rule(app, world):
    rules = crawl_rules(app)
    assert len(rules) == len(list(app.url_map.iter_rules())) - 1  # everything but static
    assert {r.endpoint for r in rules if "GET" in r.methods} >= {
        "shop.overview",
        "admin.customers_list",
        "api.customers_resource_list",
    }


@pytest.mark.parametrize("persona", ["anonymous", "shopper", "admin"])
def test_every_response_carries_the_security_headers_and_get_writes_nothing(request, app, world, persona):
    http = request.getfixturevalue(f"{persona}_client" if persona != "anonymous" else "anonymous")
    seen, problems = crawl(http, persona, all_paths(app, world))
    problems += [p for s in seen for p in header_problems(s, in_session(persona, s.path), world)]
    assert not problems, "\n".join(problems)
    assert len(seen) >= 2 * len(crawl_rules(app))
    signed_in_page = {"shopper": f"/{world.org.slug}/account/", "admin": f"/admin/{world.org.slug}/customers"}
    if persona in signed_in_page:  # the crawl really saw the signed-in pages, not only login redirects
        assert {s.status for s in seen if s.path == signed_in_page[persona]} == {200}


def test_api_responses_with_a_token_carry_the_headers_and_get_writes_nothing(app, anonymous, world):
    paths = [p for p in all_paths(app, world) if p.startswith(API_PREFIXES)]
    auth = {"Authorization": f"Bearer {world.token}", "Accept": "application/vnd.api+json"}
    seen, problems = crawl(anonymous, "api token", paths, headers=auth, hx=False)
    problems += [p for s in seen for p in header_problems(s, True, world)]
    assert not problems, "\n".join(problems)
    statuses = {s.path: s.status for s in seen}
    assert statuses[f"/api/customers/{world.shopper.public_id}"] == 200  # the token really was accepted


def test_the_nonce_is_fresh_per_response_and_on_every_script_and_style_tag(anonymous, world):
    first = anonymous.get(f"/{world.org.slug}/account/login")  # shop layout: an inline <style> and scripts
    second = anonymous.get(f"/{world.org.slug}/account/login")
    nonces = [
        next(
            s
            for s in parse_csp(r.headers["Content-Security-Policy"])["script-src"]
            if s.startswith("'nonce-")
        )
        for r in (first, second)
    ]
    assert nonces[0] != nonces[1]
    html = first.text
    tags = re.findall(r"<(?:script|style)\b[^>]*>", html)
    nonce = nonces[0][len("'nonce-") : -1]
    assert any("src=" not in tag for tag in tags), "expected an inline tag on this page"
    assert all(f'nonce="{nonce}"' in tag for tag in tags), tags


def test_hsts_over_https(anonymous, world):
    for path in ("/admin/login", f"/{world.org.slug}/account/login", "/api/customers", "/nope"):
        response = anonymous.get(path, base_url="https://localhost")
        hsts = response.headers.get("Strict-Transport-Security", "")
        assert "includeSubDomains" in hsts, path
        assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000, path


def test_error_responses_of_rejected_posts_carry_the_headers(anonymous, world):
    """A CSRF failure (400) and a cross-site POST (403) are answered by error handlers: same headers."""
    for path, headers in [
        ("/admin/login", {}),
        (
            f"/{world.org.slug}/account/login",
            {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        ),
    ]:
        before = fingerprint()
        response = anonymous.post(path, data={"email": "x@example.com", "password": "nope"}, headers=headers)
        assert response.status_code in (400, 403), path
        seen = Seen("anonymous", path, False, response.status_code, dict(response.headers))
        assert not header_problems(seen, False, world)
        assert changed_tables(before, fingerprint()) == []


def test_totp_setup_get_writes_nothing(admin_client):
    """Regression: this GET used to store a new TOTP secret each time (a reload broke the enrolment)."""
    before = fingerprint()
    response = admin_client.get("/admin/account/two-factor")
    assert response.status_code == 200
    assert changed_tables(before, fingerprint()) == []


def test_the_fingerprint_sees_a_write_but_not_the_session_touch(shopper_client, world):
    """The no-write check can fail: an update anywhere shows, the excluded liveness stamp does not."""
    before = fingerprint()
    row = db.session.scalars(select(LoginSession)).first()
    row.last_seen_at = row.last_seen_at - timedelta(seconds=31)
    db.session.flush()
    assert changed_tables(before, fingerprint()) == []
    world.shopper.metadata_ = {"touched": True}
    db.session.flush()
    assert changed_tables(before, fingerprint()) == ["customers"]


def test_a_refused_shop_post_stays_frameable_by_the_storefront(anonymous, world):
    response = anonymous.post(f"/{world.org.slug}/account/login", data={"email": "x@example.com"})
    assert response.status_code == 400
    assert parse_csp(response.headers["Content-Security-Policy"])["frame-ancestors"] == [STOREFRONT]


def test_every_test_client_response_is_checked(app, anonymous, monkeypatch):
    """The suite-wide check (tests/conftest.py) can fail: a response that lost a header is an assertion error."""

    def drop_csp(response):
        del response.headers["Content-Security-Policy"]
        return response

    # after_request functions run last-registered first: at the front of the list, this one runs after the
    # portal's own header hook.
    monkeypatch.setitem(app.after_request_funcs, None, [drop_csp, *app.after_request_funcs[None]])
    with pytest.raises(AssertionError, match="no Content-Security-Policy"):
        anonymous.get("/")


def test_the_header_rules_catch_each_missing_header(anonymous):
    response = anonymous.get("/admin/login", base_url="https://localhost")
    good = dict(response.headers)
    assert suite_headers.header_problems("/admin/login", True, good) == []
    for name in (
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cache-Control",
        "Strict-Transport-Security",
        "X-Frame-Options",
    ):
        damaged = {k: v for k, v in good.items() if k != name}
        assert suite_headers.header_problems("/admin/login", True, damaged), name
    loose = {
        **good,
        "Content-Security-Policy": good["Content-Security-Policy"] + "; script-src 'unsafe-inline'",
    }
    assert "CSP allows unsafe-*" in suite_headers.header_problems("/admin/login", True, loose)
