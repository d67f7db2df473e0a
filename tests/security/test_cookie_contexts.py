"""One session cookie per context (issue 13 #1, issue 12 #7): staff pages never re-issue their cookie with the
embedding attributes, static files set no cookie, the shopper and staff cookies have different names, and the admin
area refuses cross-site POSTs even with a valid CSRF token, writing nothing."""

from __future__ import annotations

import pytest

from portal.security import cookies
from tests.factories import PASSWORD
from tests.security.conftest import (
    STOREFRONT,
    admin_login,
    changed_tables,
    csrf_from,
    fingerprint,
    new_client,
)
from tests.security.test_cookies import session_cookies

# The loopback host counts as a secure context, so the embedding org's shopper pages get the CHIPS cookie here.
LOOPBACK = "http://localhost"


def names(app, response) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in session_cookies(response)}


def test_staff_pages_of_an_embedding_org_keep_a_lax_unpartitioned_cookie(app, world, admin_client):
    assert world.org.allowed_origins == [STOREFRONT]
    response = admin_client.get(f"/admin/{world.org.slug}/customers", base_url=LOOPBACK)
    staff = names(app, response)[cookies.cookie_name(app, cookies.STAFF)]
    assert staff["samesite"] == "Lax" and "partitioned" not in staff


def test_shop_and_staff_cookies_have_different_names_and_coexist(app, world, anonymous):
    browser = new_client(app)
    shop_page = browser.get(f"/{world.org.slug}/account/login", base_url=LOOPBACK)
    (embed,) = session_cookies(shop_page)
    assert embed["name"] == cookies.cookie_name(app, cookies.EMBED) != cookies.cookie_name(app, cookies.STAFF)
    assert embed["samesite"] == "None" and {"secure", "partitioned"} <= set(embed)
    browser.post(
        f"/{world.org.slug}/account/login",
        base_url=LOOPBACK,
        data={"email": world.shopper.email, "password": PASSWORD, "csrf_token": csrf_from(shop_page.text)},
    )
    assert admin_login(browser, world.admin.email).status_code == 303
    assert browser.get(f"/admin/{world.org.slug}/").status_code == 200


def test_static_files_set_no_cookie_even_for_a_signed_in_session(app, world, admin_client):
    response = admin_client.get("/static/css/portal.css")
    response.close()  # the file handle of send_file
    assert response.status_code == 200
    assert response.headers.getlist("Set-Cookie") == []
    assert admin_client.get("/").headers.getlist("Set-Cookie")  # a page does refresh the permanent session


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://attacker.example"},
        {"Origin": STOREFRONT, "Sec-Fetch-Site": "cross-site"},  # not even the org's own storefront
    ],
)
def test_cross_site_posts_to_the_admin_area_are_refused(world, admin_client, headers):
    slug = world.org.slug
    token = csrf_from(admin_client.get(f"/admin/{slug}/groups/new").text)
    before = fingerprint()
    response = admin_client.post(
        f"/admin/{slug}/groups/new",
        data={"name": "Evil", "code": "evil", "csrf_token": token},
        headers=headers,
    )
    assert response.status_code == 403
    assert changed_tables(before, fingerprint()) == []


def test_same_origin_admin_posts_still_work(world, admin_client):
    slug = world.org.slug
    token = csrf_from(admin_client.get(f"/admin/{slug}/groups/new").text)
    response = admin_client.post(
        f"/admin/{slug}/groups/new",
        data={"name": "Fine", "code": "fine", "csrf_token": token},
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303, response.text


def test_a_cross_site_admin_login_post_is_refused(world, anonymous):
    token = csrf_from(anonymous.get("/admin/login").text)
    response = anonymous.post(
        "/admin/login",
        data={"email": world.admin.email, "password": "x", "csrf_token": token},
        headers={"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
