"""Passkeys through the shopper pages (the JSON endpoints static/js/passkeys.js calls, and the forms), with a
software authenticator: register, sign in, rename, remove, and the refusals over HTTP (a refused attempt still
spends its challenge and counts in the lockout, although its transaction is rolled back)."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import ActionToken, Passkey
from portal.security import webauthn as rp
from portal.security.cookies import SHOP, cookie_name
from tests.authenticator import SoftAuthenticator
from tests.factories import make_customer, make_org
from tests.shop.conftest import csrf_from, post_form


def shop_cookie(client):
    return client.get_cookie(cookie_name(client.application, SHOP))


def post_json(client, org, path: str, body: dict | None = None, page: str = "login"):
    token = csrf_from(client.get(f"/{org.slug}/account/{page}").text)
    return client.post(f"/{org.slug}/account/{path}", json=body or {}, headers={"X-CSRFToken": token})


def add_passkey(client, org, authenticator=None, name="My phone"):
    authenticator = authenticator or SoftAuthenticator()
    options = post_json(client, org, "security/passkeys/options", page="security")
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json["publicKey"], rp.origin())
    created = post_json(
        client, org, "security/passkeys", {"credential": credential, "name": name}, "security"
    )
    assert created.status_code == 200, created.text
    assert created.json["redirect"] == f"/{org.slug}/account/security"
    return authenticator


def passkey_sign_in(client, org, authenticator, **extra):
    options = post_json(client, org, "login/passkey/options")
    assert options.status_code == 200
    credential = authenticator.get(options.json["publicKey"], rp.origin())
    return post_json(client, org, "login/passkey", {"credential": credential, **extra}), credential


@pytest.fixture()
def with_passkey(signed_in, org, shopper):
    authenticator = add_passkey(signed_in, org)
    post_form(signed_in, f"/{org.slug}/account/security", {}, url=f"/{org.slug}/account/logout")
    return authenticator


def test_asking_for_sign_in_options_writes_no_cookie(client, org):
    """The login page asks for options on load (conditional UI). A response that set the session cookie could land
    after the password login's and sign the shopper out again: the challenge lives server-side only."""
    options = post_json(client, org, "login/passkey/options")
    assert options.status_code == 200 and options.json["publicKey"]["challenge"]
    assert "Set-Cookie" not in options.headers


def test_the_login_page_offers_a_passkey_and_a_code(client, org):
    html = client.get(f"/{org.slug}/account/login").text
    assert 'autocomplete="username webauthn"' in html
    assert "data-passkey-sign-in" in html and "/static/js/passkeys.js" in html
    assert f'href="/{org.slug}/account/login/code"' in html


def test_a_shopper_adds_a_passkey_and_signs_in_with_it(client, org, shopper, with_passkey):
    assert client.get(f"/{org.slug}/account/").status_code == 302
    response, _ = passkey_sign_in(client, org, with_passkey, next=f"/{org.slug}/account/orders")
    assert response.status_code == 200, response.text
    assert response.json == {"redirect": f"/{org.slug}/account/orders"}
    assert client.get(f"/{org.slug}/account/").status_code == 200


def test_next_outside_the_account_area_is_ignored(client, org, with_passkey):
    response, _ = passkey_sign_in(client, org, with_passkey, next="https://evil.example/")
    assert response.json == {"redirect": f"/{org.slug}/account/"}


def test_the_security_page_lists_renames_and_removes_passkeys(signed_in, org, shopper):
    add_passkey(signed_in, org, name="Work laptop")
    page = signed_in.get(f"/{org.slug}/account/security").text
    assert "Work laptop" in page and "data-passkey-register" in page
    passkey = db.session.scalar(select(Passkey).where(Passkey.principal_id == shopper.id))
    base = f"/{org.slug}/account/security/passkeys/{passkey.public_id}"
    renamed = post_form(signed_in, f"/{org.slug}/account/security", {"name": "Home"}, url=f"{base}/rename")
    assert renamed.status_code == 303
    assert "Home" in signed_in.get(f"/{org.slug}/account/security").text
    removed = post_form(signed_in, f"/{org.slug}/account/security", {}, url=f"{base}/remove")
    assert removed.status_code == 303
    assert db.session.scalar(select(Passkey).where(Passkey.principal_id == shopper.id)) is None


def test_another_customers_passkey_id_answers_404(signed_in, org):
    other = make_customer(org)
    db.session.add(
        Passkey(
            organization_id=org.id,
            principal_type="customer",
            principal_id=other.id,
            credential_id="b3RoZXI",
            public_key=b"k",
            name="theirs",
        )
    )
    db.session.flush()
    theirs = db.session.scalar(select(Passkey).where(Passkey.principal_id == other.id))
    url = f"/{org.slug}/account/security/passkeys/{theirs.public_id}/remove"
    assert post_form(signed_in, f"/{org.slug}/account/security", {}, url=url).status_code == 404
    assert db.session.get(Passkey, theirs.id) is not None


def test_another_orgs_passkey_is_refused(client, org, with_passkey):
    other = make_org()
    make_customer(other)
    response, _ = passkey_sign_in(client, other, with_passkey)
    assert response.status_code == 401
    assert client.get(f"/{other.slug}/account/").status_code == 302


def test_a_replayed_assertion_is_refused(client, org, with_passkey):
    """The same response sent again, with the cookie of the time (its challenge still in it): the challenge is
    spent, and the counter did not move."""
    options = post_json(client, org, "login/passkey/options")
    saved = shop_cookie(client)
    credential = with_passkey.get(options.json["publicKey"], rp.origin())
    assert post_json(client, org, "login/passkey", {"credential": credential}).status_code == 200
    client.set_cookie(saved.key, saved.value, domain=saved.domain, path=saved.path)
    assert post_json(client, org, "login/passkey", {"credential": credential}).status_code == 401


def test_a_refused_attempt_spends_its_challenge(client, org, with_passkey):
    """A wrong-origin response is refused (401, rolled back); the same challenge then answered correctly from the
    same cookie is refused too: the challenge stayed spent."""
    options = post_json(client, org, "login/passkey/options")
    cookie = shop_cookie(client)
    phished = with_passkey.get(options.json["publicKey"], "https://evil.example")
    assert post_json(client, org, "login/passkey", {"credential": phished}).status_code == 401
    client.set_cookie(
        cookie.key, cookie.value, domain=cookie.domain, path=cookie.path
    )  # the challenge is back
    good = with_passkey.get(options.json["publicKey"], rp.origin())
    assert post_json(client, org, "login/passkey", {"credential": good}).status_code == 401


def test_without_a_challenge_nothing_is_checked(client, org, with_passkey):
    credential = with_passkey.get({"rpId": rp.rp_id(), "challenge": "bm9uZQ"}, rp.origin())
    assert post_json(client, org, "login/passkey", {"credential": credential}).status_code == 401


@pytest.mark.parametrize(
    "body", [None, [], {"credential": "x"}, {"credential": {"id": 5}}, {"credential": []}]
)
def test_malformed_bodies_are_refused_without_errors(client, org, body):
    post_json(client, org, "login/passkey/options")
    token = csrf_from(client.get(f"/{org.slug}/account/login").text)
    response = client.post(f"/{org.slug}/account/login/passkey", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 401


def _client_data(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "client_data",
    [
        "not base64!",
        5,
        _client_data(b"not json"),
        _client_data(b"\xff\xfe"),
        _client_data(b'{"challenge": 5}'),
        _client_data(b'{"challenge": "' + b"A" * 5000 + b'"}'),
        _client_data(b"[" * 100_000),  # deeper than json's recursion limit
    ],
)
def test_hostile_client_data_is_refused_without_errors(client, org, with_passkey, client_data):
    """The sign-in reads its challenge from the assertion's clientDataJSON, which the client writes."""
    credential = with_passkey.get({"rpId": rp.rp_id(), "challenge": "bm9uZQ"}, rp.origin())
    credential["response"]["clientDataJSON"] = client_data
    assert post_json(client, org, "login/passkey", {"credential": credential}).status_code == 401


def test_passkey_endpoints_need_the_csrf_token(client, org):
    assert client.post(f"/{org.slug}/account/login/passkey/options", json={}).status_code == 400
    assert client.post(f"/{org.slug}/account/login/passkey", json={}).status_code == 400


def test_adding_a_passkey_needs_a_fresh_sign_in(signed_in, org):
    from portal.models import LoginSession

    for row in db.session.scalars(select(LoginSession)):
        row.authenticated_at = row.created_at - rp.CHALLENGE_LIFETIME * 3
    response = post_json(signed_in, org, "security/passkeys/options", page="security")
    assert response.status_code == 403 and "sign in again" in response.json["error"]


def test_removing_a_passkey_needs_a_fresh_sign_in_too(signed_in, org, shopper):
    from portal.models import LoginSession

    add_passkey(signed_in, org, name="Phone")
    passkey = db.session.scalar(select(Passkey).where(Passkey.principal_id == shopper.id))
    for row in db.session.scalars(select(LoginSession)):
        row.authenticated_at = row.created_at - rp.CHALLENGE_LIFETIME * 3
    url = f"/{org.slug}/account/security/passkeys/{passkey.public_id}/remove"
    refused = post_form(signed_in, f"/{org.slug}/account/security", {}, url=url)
    assert refused.status_code == 303
    assert "sign out and sign in again first" in signed_in.get(f"/{org.slug}/account/security").text
    assert db.session.scalar(select(Passkey).where(Passkey.principal_id == shopper.id)) is not None


def test_adding_a_passkey_needs_a_session(client, org):
    token = csrf_from(client.get(f"/{org.slug}/account/login").text)
    response = client.post(
        f"/{org.slug}/account/security/passkeys/options", json={}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 302


def test_a_bad_registration_says_why(signed_in, org):
    options = post_json(signed_in, org, "security/passkeys/options", page="security")
    credential = SoftAuthenticator().create(options.json["publicKey"], "https://evil.example")
    response = post_json(signed_in, org, "security/passkeys", {"credential": credential}, "security")
    assert response.status_code == 422 and response.json["error"]


def test_sign_in_options_are_rate_limited_per_ip(app, client, org, monkeypatch):
    """Each options request stores a challenge row: an anonymous client may not fill the table. The budget is the
    IP's, shared with the admin login's options."""
    monkeypatch.setitem(app.config, "PASSKEY_OPTIONS_RATE_LIMIT", "3 per minute")
    token = csrf_from(client.get(f"/{org.slug}/account/login").text)
    asks = [
        client.post(f"/{org.slug}/account/login/passkey/options", json={}, headers={"X-CSRFToken": token})
        for _ in range(3)
    ]
    assert [r.status_code for r in asks] == [200, 200, 200]
    refused = client.post(
        f"/{org.slug}/account/login/passkey/options", json={}, headers={"X-CSRFToken": token}
    )
    assert refused.status_code == 429
    admin_token = csrf_from(client.get("/admin/login").text)
    assert (
        client.post("/admin/login/passkey/options", json={}, headers={"X-CSRFToken": admin_token}).status_code
        == 429
    )
    rows = db.session.scalar(
        select(func.count()).select_from(ActionToken).where(ActionToken.purpose == rp.SIGN_IN)
    )
    assert rows == 3
