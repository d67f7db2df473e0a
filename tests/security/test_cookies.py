"""Session cookies set by the real login forms: HttpOnly, an explicit SameSite, Secure under HTTPS, a new session
on login (no fixation), and a logged-out copy that no longer works (security.md SE2, SE3, SE7; S6, S7)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app, db
from portal.security import cookies
from tests.factories import PASSWORD, make_customer, make_org, make_user
from tests.security.conftest import STOREFRONT, admin_login, csrf_from, new_client, shop_login


def session_cookies(response) -> list[dict[str, str]]:
    """Every Set-Cookie of the response as {name, value, attribute: value-or-''} (attribute names lower-cased)."""
    cookies = []
    for header in response.headers.getlist("Set-Cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        cookie = {"name": name, "value": value}
        for attribute in attributes:
            key, _, val = attribute.partition("=")
            cookie[key.lower()] = val
        cookies.append(cookie)
    return cookies


def the_session_cookie(app: Flask, response) -> dict[str, str]:
    """The one session cookie of the response, whichever context (staff, shop, embed) it belongs to."""
    names = {cookies.cookie_name(app, context) for context in (cookies.STAFF, cookies.SHOP, cookies.EMBED)}
    (cookie,) = [c for c in session_cookies(response) if c["name"] in names]
    return cookie


@pytest.fixture()
def org(db_session):
    return make_org()


@pytest.fixture()
def embedding_org(db_session):
    org = make_org()
    org.allowed_origins = [STOREFRONT]
    return org


@pytest.fixture()
def https_app(app: Flask, anonymous) -> Iterator[Flask]:
    """An app created with SESSION_COOKIE_SECURE=True (the HTTPS deployment), on the test's transaction."""
    secure = create_app(
        {
            **{
                k: app.config[k]
                for k in ("TESTING", "DATABASE_URL", "SECRET_KEY", "JWT_KEYS_PATH", "MAIL_DIR")
            },
            "SESSION_COOKIE_SECURE": True,
            "SERVER_NAME": None,
        }
    )
    secure.extensions["db_bind"] = app.extensions["db_bind"]  # the test's connection, as db_session does
    yield secure
    db.engine_of(secure).dispose()


@pytest.fixture()
def browser(anonymous) -> FlaskClient:
    return anonymous


def login_response(client: FlaskClient, area: str, principal, slug: str = "", **kwargs):
    if area == "shop":
        response = shop_login(client, slug, principal.email, **kwargs)
    else:
        response = admin_login(client, principal.email, **kwargs)
    assert response.status_code == 303, response.text
    return response


@pytest.mark.parametrize("area", ["shop", "admin"])
def test_login_cookie_is_httponly_with_explicit_samesite(app, browser, org, area):
    principal = make_customer(org, password=PASSWORD) if area == "shop" else make_user(org, "admin")
    cookie = the_session_cookie(app, login_response(browser, area, principal, org.slug))
    assert "httponly" in cookie
    assert cookie.get("samesite") == "Lax"
    assert cookie.get("path") == "/"
    assert "domain" not in cookie  # host-only
    lifetime = parsedate_to_datetime(cookie["expires"]) - datetime.now(UTC)
    assert lifetime <= timedelta(hours=12)  # the absolute session lifetime, not Flask's 31 days


@pytest.mark.parametrize("area", ["shop", "admin"])
def test_signed_in_pages_do_not_resend_the_cookie(app, browser, org, area):
    """The cookie's expiry is set at sign-in (it already covers the absolute lifetime): a signed-in page that changes
    nothing in the session answers without Set-Cookie instead of re-signing it every time."""
    principal = make_customer(org, password=PASSWORD) if area == "shop" else make_user(org, "admin")
    login_response(browser, area, principal, org.slug)
    path = f"/{org.slug}/account/" if area == "shop" else f"/admin/{org.slug}/customers"
    browser.get(path)  # the first page stores the new session's CSRF token: a changed session, a new cookie
    page = browser.get(path)
    assert page.status_code == 200, page.status_code
    assert "Set-Cookie" not in page.headers


def test_embedded_shop_cookie_is_samesite_none_secure_partitioned(app, browser, embedding_org):
    """An org that lets a storefront frame its pages gets a CHIPS cookie (SECURITY.md, embedding)."""
    shopper = make_customer(embedding_org, password=PASSWORD)
    cookie = the_session_cookie(app, login_response(browser, "shop", shopper, embedding_org.slug))
    assert cookie.get("samesite") == "None"
    assert {"secure", "partitioned", "httponly"} <= set(cookie)


@pytest.mark.parametrize("area", ["shop", "admin"])
def test_https_deployment_sets_secure_cookies(https_app, org, area):
    client = new_client(https_app)
    principal = make_customer(org, password=PASSWORD) if area == "shop" else make_user(org, "admin")
    base = "https://localhost"
    page_url = f"/{org.slug}/account/login" if area == "shop" else "/admin/login"
    page = client.get(page_url, base_url=base)
    assert "secure" in the_session_cookie(https_app, page)
    response = client.post(
        page_url,
        base_url=base,
        # flask-wtf's SSL-strict check needs a same-origin Referer: why Referrer-Policy is never no-referrer
        headers={"Referer": base + page_url},
        data={"email": principal.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text
    cookie = the_session_cookie(https_app, response)
    assert {"secure", "httponly"} <= set(cookie)
    assert "Strict-Transport-Security" in response.headers


def test_https_session_cookie_has_the_host_prefix(https_app):
    response = new_client(https_app).get("/admin/login", base_url="https://localhost")
    cookie = session_cookies(response)[0]
    assert cookie["name"].startswith("__Host-")


@pytest.mark.parametrize("area", ["shop", "admin"])
def test_login_starts_a_new_session_and_the_old_cookie_stays_browser(app, browser, org, area):
    """No fixation (ASVS 7.2.4): the pre-login cookie, replayed after login, is not signed in."""
    principal = make_customer(org, password=PASSWORD) if area == "shop" else make_user(org, "admin")
    page_url = f"/{org.slug}/account/login" if area == "shop" else "/admin/login"
    home = f"/{org.slug}/account/" if area == "shop" else f"/admin/{org.slug}/"
    page = browser.get(page_url)
    name, before = (the_session_cookie(app, page)[k] for k in ("name", "value"))
    response = login_response(browser, area, principal, org.slug)
    after = the_session_cookie(app, response)["value"]
    assert after != before
    assert browser.get(home).status_code == 200
    assert csrf_from(
        browser.get(page_url if area == "admin" else f"/{org.slug}/account/profile").text
    ) != csrf_from(page.text)  # the CSRF token is rotated with the session
    attacker = new_client(app)
    attacker.set_cookie(name, before)
    assert attacker.get(home).status_code in (302, 303)


@pytest.mark.parametrize("area", ["shop", "admin"])
def test_a_copied_cookie_dies_with_logout(app, browser, org, area):
    """ASVS 7.4.1: logging out ends the session on the server, not only in this browser."""
    principal = make_customer(org, password=PASSWORD) if area == "shop" else make_user(org, "admin")
    home = f"/{org.slug}/account/" if area == "shop" else f"/admin/{org.slug}/"
    copied = the_session_cookie(app, login_response(browser, area, principal, org.slug))
    thief = new_client(app)
    thief.set_cookie(copied["name"], copied["value"])
    assert thief.get(home).status_code == 200
    token = csrf_from(
        browser.get(f"/{org.slug}/account/profile" if area == "shop" else f"/admin/{org.slug}/settings").text
    )
    logout = f"/{org.slug}/account/logout" if area == "shop" else "/admin/logout"
    assert browser.post(logout, data={"csrf_token": token}).status_code == 303
    assert thief.get(home).status_code in (302, 303)


def test_no_cookie_without_httponly_anywhere_in_the_login_flows(app, browser, org):
    """Every cookie the login pages and forms set (session, CSRF) is HttpOnly with an explicit SameSite."""
    shopper = make_customer(org, password=PASSWORD)
    seen = []
    for response in (
        browser.get(f"/{org.slug}/account/login"),
        shop_login(browser, org.slug, shopper.email),
        browser.get("/admin/login"),
    ):
        seen += session_cookies(response)
    assert seen
    for cookie in seen:
        assert "httponly" in cookie and cookie.get("samesite") in ("Lax", "Strict", "None"), cookie
