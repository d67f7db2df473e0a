"""`/oauth/logout`: the application that started a hosted sign-in ends its session (RP-initiated logout). A GET
never signs anyone out; the person confirms; only registered return addresses; unknown clients get a page."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from portal import db
from portal.services import applications
from portal.services.audit import SYSTEM
from tests import factories
from tests.oauth.test_authorization_code import CALLBACK, WEBAPP_CALLBACK, admin_login, query, shop_login, w  # noqa: F401
from tests.shop.conftest import csrf_from

SIGNED_OUT = "https://shop.example.com/signed-out"


@pytest.fixture()
def store(w):  # noqa: F811 - the authorization world, its storefront with a sign-out return address
    w.shop.redirect_uri = f"{CALLBACK}\n{SIGNED_OUT}"
    db.session.flush()
    return w


def logout_path(application, back: str = SIGNED_OUT, **extra) -> str:
    params = {"client_id": application.client_id, "post_logout_redirect_uri": back, "state": "s-1", **extra}
    return "/oauth/logout?" + urlencode({k: v for k, v in params.items() if v is not None})


def signed_in_to_shop(client, store) -> bool:
    return client.get(f"/{store.org.slug}/account/").status_code == 200


def test_the_shopper_confirms_then_is_signed_out_and_sent_back_with_the_state(client, store):
    shop_login(client, store.org, f"/{store.org.slug}/account/")
    page = client.get(logout_path(store.shop))
    assert page.status_code == 200 and signed_in_to_shop(client, store)  # a GET alone signs nobody out
    assert "Sign out of your account at" in page.get_data(as_text=True)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(logout_path(store.shop), data={"csrf_token": token, "sign_out": "1"})
    assert response.status_code == 302
    assert response.location.startswith(SIGNED_OUT + "?") and query(response.location) == {"state": "s-1"}
    assert not signed_in_to_shop(client, store)


def test_staying_signed_in_goes_back_without_signing_out(client, store):
    shop_login(client, store.org, f"/{store.org.slug}/account/")
    token = csrf_from(client.get(logout_path(store.shop)).get_data(as_text=True))
    response = client.post(logout_path(store.shop), data={"csrf_token": token, "stay": "1"})
    assert response.location.startswith(SIGNED_OUT) and signed_in_to_shop(client, store)


def test_nobody_signed_in_goes_straight_back(client, store):
    response = client.get(logout_path(store.shop, state=None))
    assert response.status_code == 303 and response.location == SIGNED_OUT


@pytest.mark.parametrize(
    "change",
    [
        {"back": "https://evil.example/signed-out"},
        {"back": SIGNED_OUT + "/"},
        {"back": SIGNED_OUT.upper()},
        {"back": ""},
        {"client_id": "unknown"},
        {"client_id": None},
    ],
)
def test_an_unknown_client_or_unregistered_return_address_gets_a_page_not_a_redirect(client, store, change):
    shop_login(client, store.org, f"/{store.org.slug}/account/")
    path = logout_path(store.shop, back=change.get("back", SIGNED_OUT))
    if "client_id" in change:
        params = {"post_logout_redirect_uri": SIGNED_OUT}
        if change["client_id"]:
            params["client_id"] = change["client_id"]
        path = "/oauth/logout?" + urlencode(params)
    response = client.get(path)
    assert response.status_code == 400 and "Location" not in response.headers
    assert signed_in_to_shop(client, store)


def test_a_revoked_application_cannot_sign_anyone_out(client, store):
    shop_login(client, store.org, f"/{store.org.slug}/account/")
    applications.revoke_application(SYSTEM, store.org, store.shop)
    assert client.get(logout_path(store.shop)).status_code == 400


def test_a_cross_site_or_tokenless_post_signs_nobody_out(client, store):
    shop_login(client, store.org, f"/{store.org.slug}/account/")
    token = csrf_from(client.get(logout_path(store.shop)).get_data(as_text=True))
    forged = client.post(
        logout_path(store.shop),
        data={"csrf_token": token, "sign_out": "1"},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert client.post(logout_path(store.shop), data={"sign_out": "1"}).status_code == 403
    assert signed_in_to_shop(client, store)


def test_another_orgs_store_cannot_end_this_orgs_session(client, store):
    """The other org's storefront sees nobody of its own signed in: it goes straight back, this session lives on."""
    store.other_shop.redirect_uri = SIGNED_OUT
    db.session.flush()
    shop_login(client, store.org, f"/{store.org.slug}/account/")
    response = client.get(logout_path(store.other_shop))
    assert response.status_code == 303 and signed_in_to_shop(client, store)


def test_a_webapp_signs_a_staff_member_out_of_the_admin_area(client, store):
    admin_login(client, store.admin, "/admin/")
    page = client.get(logout_path(store.webapp, back=WEBAPP_CALLBACK))
    assert "Sign out of the admin area?" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        logout_path(store.webapp, back=WEBAPP_CALLBACK), data={"csrf_token": token, "sign_out": "1"}
    )
    assert response.location.startswith(WEBAPP_CALLBACK)
    assert client.get("/admin/").status_code in (302, 303)  # to the login page


def test_an_embedding_orgs_confirmation_is_never_framed_and_refuses_cross_site_posts(client, store):
    """An org with storefront origins uses the SameSite=None shopper cookie, sent with cross-site requests, and its
    shopper pages may be framed by those storefronts: the sign-out page may not, and only a same-origin POST counts."""
    store.org.allowed_origins = ["https://shop.example.com"]
    db.session.flush()
    loopback = "http://localhost"  # a secure context: the embedding cookie is in use
    page = client.get(f"/{store.org.slug}/account/login", base_url=loopback)
    form = {
        "csrf_token": csrf_from(page.text),
        "email": "shopper@example.com",
        "password": factories.PASSWORD,
    }
    assert client.post(f"/{store.org.slug}/account/login", base_url=loopback, data=form).status_code == 303
    confirm = client.get(logout_path(store.shop), base_url=loopback)
    assert (
        confirm.status_code == 200 and "frame-ancestors 'none'" in confirm.headers["Content-Security-Policy"]
    )
    data = {"csrf_token": csrf_from(confirm.text), "sign_out": "1"}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://shop.example.com"}):
        forged = client.post(logout_path(store.shop), base_url=loopback, data=data, headers=headers)
        assert forged.status_code == 403
    assert client.get(f"/{store.org.slug}/account/", base_url=loopback).status_code == 200


def test_the_staff_confirmation_is_never_framed(client, store):
    admin_login(client, store.admin, "/admin/")
    page = client.get(logout_path(store.webapp, back=WEBAPP_CALLBACK))
    assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_state_goes_back_encoded_on_the_continue_page(client, store):
    """A form of ours started the navigation: the redirect is a page (meta refresh and a link); a state with '&',
    '#', CR/LF, quotes or markup is one query parameter, escaped in the page."""
    shop_login(client, store.org, f"/{store.org.slug}/account/")
    state = 'a&b=c#d\r\nX: y"<script>'
    token = csrf_from(client.get(logout_path(store.shop, state=state)).text)
    page = client.post(
        logout_path(store.shop, state=state),
        data={"csrf_token": token, "sign_out": "1"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert page.status_code == 200 and "<script>" not in page.text and "\r\nX:" not in page.text
    back = f"{SIGNED_OUT}?{urlencode({'state': state})}"
    assert f'content="0;url={back}"' in page.text and query(back) == {"state": state}
