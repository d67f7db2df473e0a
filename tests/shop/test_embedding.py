"""Embedding in a storefront: frame-ancestors per org, embed mode kept through links, partitioned cookies for
cross-site frames, and the token hand-off."""

from __future__ import annotations

from sqlalchemy import select

from portal import db
from portal.models import LoginSession
from tests.factories import PASSWORD, make_application, make_customer, make_org, token_for
from tests.shop.conftest import login

STOREFRONT = "https://shop.example"


def _embeddable(org):
    org.allowed_origins = [STOREFRONT]
    db.session.flush()
    return org


def test_shopper_pages_are_framable_only_by_the_orgs_storefronts(client, org):
    plain = client.get(f"/{org.slug}/account/login")
    assert "frame-ancestors 'none'" in plain.headers["Content-Security-Policy"]
    assert plain.headers["X-Frame-Options"] == "DENY"
    _embeddable(org)
    framed = client.get(f"/{org.slug}/account/login?embed=1")
    assert f"frame-ancestors {STOREFRONT}" in framed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in framed.headers


def test_embed_mode_is_kept_through_links_and_forms(client, org, shopper):
    _embeddable(org)
    html = client.get(f"/{org.slug}/account/login?embed=1").get_data(as_text=True)
    assert 'class="shop embed"' in html
    assert f'action="/{org.slug}/account/login?embed=1"' in html
    assert f'href="/{org.slug}/account/signup?embed=1"' in html
    assert "js/embed.js" in html and f"data-origins='[\"{STOREFRONT}\"]'" in html
    assert "<script>" not in html  # no inline script: the CSP nonce only loads files
    plain = client.get(f"/{org.slug}/account/login").get_data(as_text=True)
    assert "embed.js" not in plain and 'class="shop"' in plain


def test_cross_site_cookie_only_for_embeddable_orgs_over_https(app, client, org):
    response = client.get(f"/{org.slug}/account/login", base_url="https://portal.example")
    assert "SameSite=Lax" in response.headers["Set-Cookie"]
    _embeddable(org)
    response = app.test_client().get(f"/{org.slug}/account/login", base_url="https://portal.example")
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    response = app.test_client().get(f"/{org.slug}/account/login", base_url="http://portal.example")
    assert "SameSite=Lax" in response.headers["Set-Cookie"]


def _handoff(client, org, token, origin=STOREFRONT):
    return client.post(
        f"/{org.slug}/account/handoff?embed=1",
        data={"access_token": token},
        headers={"Origin": origin, "Sec-Fetch-Site": "cross-site"},
    )


def test_handoff_opens_a_session_from_a_customer_token(client, org, shopper):
    _embeddable(org)
    application, _ = make_application(org, "sales_channel")
    response = _handoff(client, org, token_for(application, shopper))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/{org.slug}/account/?embed=1"
    assert client.get(response.headers["Location"]).status_code == 200
    assert db.session.scalar(select(LoginSession).where(LoginSession.principal_id == shopper.id)) is not None


def test_handoff_refuses_other_origins_orgs_and_token_kinds(client, org, shopper):
    _embeddable(org)
    application, _ = make_application(org, "sales_channel")
    token = token_for(application, shopper)
    assert _handoff(client, org, token, origin="https://evil.example").status_code == 403
    assert _handoff(client, org, "not-a-token").status_code == 401
    assert _handoff(client, org, token_for(application)).status_code == 401  # guest token: no customer
    other = _embeddable(make_org())
    other_app, _ = make_application(other, "sales_channel")
    foreign = token_for(other_app, make_customer(other, password=PASSWORD))
    assert _handoff(client, org, foreign).status_code == 401
    assert db.session.scalar(select(LoginSession)) is None


def test_handoff_with_a_revoked_token_fails(client, org, shopper):
    _embeddable(org)
    application, _ = make_application(org, "sales_channel")
    token = token_for(application, shopper)
    login(client, org, shopper.email)
    from portal.services import customers

    customers.end_all_sessions(shopper)
    assert _handoff(client, org, token).status_code == 401
