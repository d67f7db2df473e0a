"""authorization_code + PKCE: the hosted sign-in (`/oauth/authorize`) and the code exchange, with every refusal."""

from __future__ import annotations

import html
import re
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt

from portal import db
from portal.models import AuthorizationCode, OAuthToken
from portal.security import signing_keys
from portal.services import orgs, staff
from portal.services.audit import SYSTEM
from tests import factories
from tests.oauth.conftest import issued
from tests.shop.conftest import csrf_from

CALLBACK = "https://shop.example.com/callback"
WEBAPP_CALLBACK = "https://app.example.com/oauth/cb"


@pytest.fixture()
def w(db_session):
    org = factories.make_org()
    vip = factories.make_group(org, "VIP", code="vip")
    factories.make_market(org, "vip", group=vip)
    shop, _ = orgs.create_application(
        SYSTEM, org, name="Storefront", kind="sales_channel", redirect_uris=[CALLBACK]
    )
    twin, _ = orgs.create_application(
        SYSTEM, org, name="Twin", kind="sales_channel", redirect_uris=[CALLBACK]
    )
    webapp, webapp_secret = orgs.create_application(
        SYSTEM, org, name="Helpdesk", kind="webapp", redirect_uris=[WEBAPP_CALLBACK]
    )
    shopper = factories.make_customer(org, "shopper@example.com", password=factories.PASSWORD)
    admin = factories.make_user(org, "admin")
    viewer = factories.make_user(org, "read_only")
    other = factories.make_org()
    other_shop, _ = orgs.create_application(
        SYSTEM, other, name="Other store", kind="sales_channel", redirect_uris=[CALLBACK]
    )
    factories.make_customer(other, "shopper@example.com", password=factories.PASSWORD)
    db.session.flush()

    class World:
        pass

    world = World()
    world.__dict__.update(locals())
    return world


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def authorize_path(application, challenge: str | None, **overrides) -> str:
    params = {
        "response_type": "code",
        "client_id": application.client_id,
        "redirect_uri": (application.redirect_uris or [CALLBACK])[0],
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def shop_login(client, org, next_path: str, email: str = "shopper@example.com"):
    page = client.get(f"/{org.slug}/account/login?" + urlencode({"next": next_path}))
    return client.post(
        f"/{org.slug}/account/login",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "email": email,
            "password": factories.PASSWORD,
            "next": next_path,
        },
    )


def consent(client, path: str, decision: str = "allow"):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)), decision: "1"})


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def code_for(client, w, verifier_challenge=None, **overrides) -> tuple[str, str]:
    """Sign the shopper in, allow the storefront, return (code, verifier)."""
    verifier, challenge = verifier_challenge or pkce()
    path = authorize_path(w.shop, challenge, **overrides)
    shop_login(client, w.org, path)
    response = consent(client, path) if not _consented(client, path) else client.get(path)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location.startswith(CALLBACK + "?")
    return query(response.location)["code"], verifier


def _consented(client, path) -> bool:
    return client.get(path).status_code == 302


def exchange(token, application, code: str, verifier: str | None, **overrides):
    body = {
        "grant_type": "authorization_code",
        "client_id": application.client_id,
        "code": code,
        "redirect_uri": application.redirect_uris[0],
        "code_verifier": verifier,
        **overrides,
    }
    return token(form=True, **{k: v for k, v in body.items() if v is not None})


# --- the journey ---


def test_shopper_signs_in_consents_once_and_the_code_buys_a_customer_token(client, w, token):
    verifier, challenge = pkce()
    path = authorize_path(w.shop, challenge, scope="market:code:main")
    first = client.get(path)
    assert first.status_code == 303
    assert urlsplit(first.location).path == f"/{w.org.slug}/account/login"
    assert query(first.location)["next"] == path
    signed_in = shop_login(client, w.org, path)
    assert signed_in.status_code == 303 and signed_in.location == path
    page = client.get(path)
    assert "Storefront" in page.get_data(as_text=True) and page.headers["X-Frame-Options"] == "DENY"
    back = consent(client, path)
    assert back.status_code == 302
    answer = query(back.location)
    assert back.location.startswith(CALLBACK + "?") and answer["state"] == "st-123"
    response = exchange(token, w.shop, answer["code"], verifier)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["owner_type"] == "customer" and body["owner_id"] == w.shopper.public_id
    assert body["scope"] == "market:code:main" and body["refresh_token"]
    claims = jwt.decode(body["access_token"], signing_keys.key_set(), algorithms=["RS512"]).claims
    assert claims["owner"] == {"type": "Customer", "id": w.shopper.public_id}
    assert claims["application"]["kind"] == "sales_channel" and len(claims["market"]["id"]) == 1
    # consent is remembered: the next request goes straight back with a new code
    again = client.get(authorize_path(w.shop, pkce()[1]))
    assert again.status_code == 302 and "code" in query(again.location)
    # the refresh token rotates like the password grant's
    refreshed = token(
        grant_type="refresh_token", client_id=w.shop.client_id, refresh_token=body["refresh_token"]
    )
    assert refreshed.status_code == 200 and refreshed.json["refresh_token"] != body["refresh_token"]


def test_consent_page_speaks_the_shoppers_language(client, w):
    path = authorize_path(w.shop, pkce()[1])
    shop_login(client, w.org, path)
    page = client.get(path, headers={"Accept-Language": "it"})
    assert "Consentire a Storefront di usare il tuo account?" in page.get_data(as_text=True)
    error = client.get(
        authorize_path(w.shop, pkce()[1], redirect_uri="https://evil.example/"),
        headers={"Accept-Language": "it"},
    )
    assert "Questo link di accesso non è valido" in error.get_data(as_text=True)


def test_state_comes_back_untouched(client, w):
    state = "a b&c=d/é?#%25"
    code, _ = code_for(client, w, state=state)
    location = client.get(authorize_path(w.shop, pkce()[1], state=state)).location
    assert query(location)["state"] == state and code


def test_deny_sends_access_denied_back_with_state(client, w):
    path = authorize_path(w.shop, pkce()[1])
    shop_login(client, w.org, path)
    response = consent(client, path, "deny")
    assert response.status_code == 302
    answer = query(response.location)
    assert answer["error"] == "access_denied" and answer["state"] == "st-123" and "code" not in answer
    assert db.session.query(AuthorizationCode).count() == 0


def test_consent_needs_the_forms_csrf_token(client, w):
    path = authorize_path(w.shop, pkce()[1])
    shop_login(client, w.org, path)
    refused = client.post(path, data={"allow": "1"})
    assert refused.status_code == 403 and refused.content_type.startswith("text/html")  # a page, not JSON
    assert (
        client.post(path, data={"allow": "1"}, headers={"Origin": "https://evil.example"}).status_code == 403
    )


# --- the authorization request: refusals that never redirect ---


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        CALLBACK + "/",
        CALLBACK + "?x=1",
        CALLBACK + "#frag",
        "https://shop.example.com.evil.example/callback",
        "https://shop.example.com/callback/../evil",
        "http://shop.example.com/callback",
        "",
    ],
)
def test_wrong_redirect_uri_shows_an_error_page_and_never_redirects(client, w, redirect_uri):
    response = client.get(authorize_path(w.shop, pkce()[1], redirect_uri=redirect_uri or None))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "This sign-in link is not valid" in response.get_data(as_text=True)


@pytest.mark.parametrize("client_id", ["nope", None])
def test_unknown_or_missing_client_shows_an_error_page(client, w, client_id):
    path = authorize_path(w.shop, pkce()[1], client_id=client_id)
    if client_id is None:
        path = path.replace(f"client_id={w.shop.client_id}&", "")
    response = client.get(path)
    assert response.status_code == 400 and "Location" not in response.headers


def test_revoked_or_integration_client_shows_an_error_page(client, w):
    integration, _ = factories.make_application(w.org, "integration")
    assert client.get(authorize_path(integration, None, redirect_uri=CALLBACK)).status_code == 400
    w.shop.revoked_at = db.utcnow()
    assert client.get(authorize_path(w.shop, pkce()[1])).status_code == 400


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # PKCE required
        ({"code_challenge_method": "plain"}, "invalid_request"),  # S256 only
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "market:code:nowhere"}, "invalid_scope"),
    ],
)
def test_bad_requests_with_a_registered_uri_go_back_with_the_error(client, w, overrides, error):
    response = client.get(authorize_path(w.shop, pkce()[1], **overrides))
    assert response.status_code == 302 and response.location.startswith(CALLBACK + "?")
    assert query(response.location)["error"] == error and query(response.location)["state"] == "st-123"


def test_private_market_only_for_its_group(client, w):
    path = authorize_path(w.shop, pkce()[1], scope="market:code:vip")
    shop_login(client, w.org, path)
    response = client.get(path)
    assert response.status_code == 302 and query(response.location)["error"] == "access_denied"


# --- sign-in: open redirects and tenancy ---


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/",
        "//evil.example/oauth/authorize",
        "/oauth/authorize/../../evil",
        "/oauth/authorize\\@evil.example",
        "/oauth/authorize?x=\r\nLocation: https://evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_next_never_leaves_the_site(client, w, next_path):
    response = shop_login(client, w.org, next_path)
    assert response.status_code == 303
    assert urlsplit(response.location).path == f"/{w.org.slug}/account/"
    assert not urlsplit(response.location).netloc


def test_another_orgs_client_on_this_orgs_login_gets_no_code(client, w):
    path = authorize_path(w.other_shop, pkce()[1])
    shop_login(client, w.org, path)  # a customer of org A, sent on to org B's client
    response = client.get(path)
    assert response.status_code == 303
    assert urlsplit(response.location).path == f"/{w.other.slug}/account/login"
    assert db.session.query(AuthorizationCode).count() == 0


# --- the code exchange ---


def test_missing_or_wrong_verifier_is_refused(client, w, token):
    code, verifier = code_for(client, w)
    missing = exchange(token, w.shop, code, None)
    assert missing.status_code == 400 and missing.json["errors"][0]["title"] == "invalid_request"
    wrong = exchange(token, w.shop, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json["errors"][0]["title"] == "invalid_grant"
    assert issued() == 0


def test_reused_code_is_refused_and_revokes_what_it_issued(client, w, token):
    code, verifier = code_for(client, w)
    first = exchange(token, w.shop, code, verifier)
    assert first.status_code == 200
    access = first.json["access_token"]
    assert client.get("/api/customers", headers={"Authorization": f"Bearer {access}"}).status_code == 200
    again = exchange(token, w.shop, code, verifier)
    assert again.status_code == 400 and again.json["errors"][0]["title"] == "invalid_grant"
    assert "already used" in again.json["errors"][0]["detail"]
    assert client.get("/api/customers", headers={"Authorization": f"Bearer {access}"}).status_code == 401
    refresh = token(
        grant_type="refresh_token", client_id=w.shop.client_id, refresh_token=first.json["refresh_token"]
    )
    assert refresh.status_code == 400


def test_code_of_another_client_is_refused(client, w, token):
    code, verifier = code_for(client, w)
    response = exchange(token, w.twin, code, verifier)
    assert response.status_code == 400 and response.json["errors"][0]["title"] == "invalid_grant"
    assert exchange(token, w.shop, code, verifier).status_code == 200  # and it is still the right client's


def test_expired_code_is_refused(client, w, token):
    code, verifier = code_for(client, w)
    row = db.session.query(AuthorizationCode).one()
    assert row.expires_at - row.created_at <= timedelta(seconds=60)
    row.expires_at = db.utcnow() - timedelta(seconds=1)
    response = exchange(token, w.shop, code, verifier)
    assert response.status_code == 400 and response.json["errors"][0]["title"] == "invalid_grant"


def test_expired_unused_codes_are_swept_used_ones_kept_for_reuse_detection(client, w, token):
    """Each visit of a signed-in, consenting shopper stores a code: a loop of GETs must not grow the table for good.
    Codes nobody exchanged are useless once expired; used ones stay, so a late replay still revokes its tokens."""
    used, verifier = code_for(client, w)
    assert exchange(token, w.shop, used, verifier).status_code == 200
    path = authorize_path(w.shop, pkce()[1])
    for _ in range(3):
        assert client.get(path).status_code == 302
    assert db.session.query(AuthorizationCode).count() == 4
    for row in db.session.query(AuthorizationCode):
        row.expires_at = db.utcnow() - timedelta(seconds=1)
    assert client.get(path).status_code == 302
    rows = db.session.query(AuthorizationCode).all()
    assert sorted(row.used_at is None for row in rows) == [False, True]  # the used code and the fresh one
    assert (
        exchange(token, w.shop, used, verifier)
        .json["errors"][0]["detail"]
        .startswith("The authorization code was")
    )


def test_redirect_uri_must_match_the_authorization_request(client, w, token):
    code, verifier = code_for(client, w)
    response = exchange(token, w.shop, code, verifier, redirect_uri="https://shop.example.com/other")
    assert response.status_code == 400 and response.json["errors"][0]["title"] == "invalid_grant"


def test_the_code_is_stored_hashed(client, w):
    code, _ = code_for(client, w)
    assert db.session.query(AuthorizationCode).filter_by(code_hash=code).count() == 0


def test_anonymized_customer_code_is_refused(client, w, token):
    code, verifier = code_for(client, w)
    w.shopper.anonymization_status = "completed"
    assert exchange(token, w.shop, code, verifier).status_code == 400


# --- webapps: staff through the admin login ---


def admin_login(client, user, next_path: str):
    page = client.get("/admin/login?" + urlencode({"next": next_path}))
    return client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "email": user.email,
            "password": factories.PASSWORD,
            "next": next_path,
        },
    )


def webapp_token(client, w, token, user):
    path = authorize_path(w.webapp, None, code_challenge_method=None)
    assert urlsplit(client.get(path).location).path == "/admin/login"
    assert admin_login(client, user, path).location == path
    back = consent(client, path)
    assert back.status_code == 302 and back.location.startswith(WEBAPP_CALLBACK)
    code = query(back.location)["code"]
    without_secret = exchange(token, w.webapp, code, None)
    assert without_secret.status_code == 401
    response = exchange(token, w.webapp, code, None, client_secret=w.webapp_secret)
    assert response.status_code == 200, response.json
    assert response.json["owner_type"] == "user" and response.json["owner_id"] == user.public_id
    return response.json["access_token"]


def test_webapp_token_acts_for_an_admin_and_may_request_anonymization(client, w, token):
    access = webapp_token(client, w, token, w.admin)
    claims = jwt.decode(access, signing_keys.key_set(), algorithms=["RS512"]).claims
    assert claims["application"]["kind"] == "webapp" and claims["owner"] == {
        "type": "User",
        "id": w.admin.public_id,
    }
    headers = {"Authorization": f"Bearer {access}", "Content-Type": "application/vnd.api+json"}
    body = {
        "data": {
            "type": "customers",
            "id": w.shopper.public_id,
            "attributes": {"_request_anonymization": True},
        }
    }
    response = client.patch(f"/api/customers/{w.shopper.public_id}", json=body, headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["data"]["attributes"]["anonymization_status"] == "requested"


def test_webapp_token_of_a_read_only_member_may_not(client, w, token):
    access = webapp_token(client, w, token, w.viewer)
    headers = {"Authorization": f"Bearer {access}", "Content-Type": "application/vnd.api+json"}
    assert client.get("/api/customers", headers=headers).status_code == 200
    body = {
        "data": {
            "type": "customers",
            "id": w.shopper.public_id,
            "attributes": {"_request_anonymization": True},
        }
    }
    assert client.patch(f"/api/customers/{w.shopper.public_id}", json=body, headers=headers).status_code in (
        401,
        403,
    )


def test_an_org_requiring_two_factor_asks_a_webapp_what_the_admin_area_asks(app, client, w):
    """Admins need a second factor (TOTP, or a passkey sign-in, which is both); read-only members don't, as in the
    admin area's guard: one rule, `sessions.two_factor`."""
    w.org.require_admin_2fa = True
    path = authorize_path(w.webapp, None, code_challenge_method=None)
    admin_login(client, w.admin, path)
    refused = client.get(path)
    assert refused.status_code == 302 and query(refused.location)["error"] == "access_denied"
    with client.session_transaction() as session:
        session["passkey"] = True  # what a passkey sign-in marks (admin/auth.start_session)
    assert "Allow Helpdesk to act for you?" in client.get(path).get_data(as_text=True)
    viewer = app.test_client()
    admin_login(viewer, w.viewer, path)
    assert "Allow Helpdesk to act for you?" in viewer.get(path).get_data(as_text=True)


def test_a_shopper_session_cannot_authorize_a_webapp(client, w):
    path = authorize_path(w.webapp, None, code_challenge_method=None)
    shop_login(client, w.org, path)
    response = client.get(path)
    assert response.status_code == 303 and urlsplit(response.location).path == "/admin/login"


def test_webapps_cannot_use_other_grants(w, token):
    response = token(
        grant_type="client_credentials", client_id=w.webapp.client_id, client_secret=w.webapp_secret
    )
    assert response.status_code == 401 and response.json["errors"][0]["title"] == "unauthorized_client"


# --- the org setting: password grant off ---


def test_password_grant_can_be_turned_off(w, token):
    login = {
        "grant_type": "password",
        "client_id": w.shop.client_id,
        "username": "shopper@example.com",
        "password": factories.PASSWORD,
    }
    assert token(**login).status_code == 200
    staff.update_settings(SYSTEM, w.org, {"password_grant": False})
    refused = token(**login)
    assert refused.status_code == 401 and refused.json["errors"][0]["title"] == "unauthorized_client"
    assert issued() == 1
    other = token(**{**login, "client_id": w.other_shop.client_id})
    assert other.status_code == 200  # the setting is per organization


def test_tokens_issued_count(client, w, token):
    code, verifier = code_for(client, w)
    before = issued()
    exchange(token, w.shop, code, verifier)
    assert issued() == before + 1
    assert db.session.query(OAuthToken).filter(OAuthToken.owner_id == w.shopper.id).count() == 1


def test_a_navigation_from_our_own_forms_goes_back_through_a_page(client, w):
    """The browser checks a form's redirects against `form-action 'self'`: after our login or consent form the way
    back to the client is a page that moves on by itself (meta refresh and a link), never a cross-origin 302."""
    path = authorize_path(w.shop, pkce()[1])
    shop_login(client, w.org, path)
    page = client.get(path)
    response = client.post(
        path,
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "allow": "1"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Location" not in response.headers
    assert '<meta http-equiv="refresh" content="0;url=https://shop.example.com/callback?code=' in html
    assert "state=st-123" in html
    denied = client.get(authorize_path(w.shop, None), headers={"Sec-Fetch-Site": "same-origin"})
    assert denied.status_code == 200 and "error=invalid_request" in denied.get_data(as_text=True)


@pytest.mark.parametrize("detour", ["signup", "password/forgot"])
def test_sign_up_and_reset_keep_the_authorization_request_for_the_login_after_them(client, w, detour):
    path = authorize_path(w.shop, pkce()[1])
    login_page = client.get(f"/{w.org.slug}/account/login?" + urlencode({"next": path})).get_data(
        as_text=True
    )
    assert f"/{w.org.slug}/account/{detour}?next=" in login_page
    form = client.get(f"/{w.org.slug}/account/{detour}?" + urlencode({"next": path})).get_data(as_text=True)
    sent = client.post(
        f"/{w.org.slug}/account/{detour}",
        data={
            "csrf_token": csrf_from(form),
            "email": "new@example.com",
            "password": "a long new password",
            "confirm": "a long new password",
            "next": path,
        },
    )
    assert sent.status_code == 303
    # ... the email link, then the login page again, without a `next` in its URL
    page = client.get(f"/{w.org.slug}/account/login").get_data(as_text=True)
    kept = html.unescape(
        re.search(r'<input id="next" name="next" type="hidden" value="([^"]*)"', page).group(1)
    )
    assert kept == path
    response = client.post(
        f"/{w.org.slug}/account/login",
        data={
            "csrf_token": csrf_from(page),
            "email": "shopper@example.com",
            "password": factories.PASSWORD,
            "next": kept,
        },
    )
    assert response.status_code == 303 and response.location == path


def test_a_detour_page_merely_opened_remembers_nothing(client, w):
    """Any site can link to the sign-up page with a `next` (and a shopper may leave it unsent): only a submitted
    detour form leaves it for the next login, or a foreign page could send the shopper's next sign-in into an
    authorization request of its choosing (its own PKCE challenge and state)."""
    path = authorize_path(w.shop, pkce()[1])
    for detour in ("signup", "password/forgot"):
        client.get(f"/{w.org.slug}/account/{detour}?" + urlencode({"next": path}))
    page = client.get(f"/{w.org.slug}/account/login").get_data(as_text=True)
    assert "/oauth/authorize" not in page
    response = client.post(
        f"/{w.org.slug}/account/login",
        data={"csrf_token": csrf_from(page), "email": "shopper@example.com", "password": factories.PASSWORD},
    )
    assert response.status_code == 303 and response.location == f"/{w.org.slug}/account/"


def test_a_detour_with_a_foreign_next_remembers_nothing(client, w):
    client.get(f"/{w.org.slug}/account/signup?next=https://evil.example/")
    page = client.get(f"/{w.org.slug}/account/login").get_data(as_text=True)
    assert "evil.example" not in page
