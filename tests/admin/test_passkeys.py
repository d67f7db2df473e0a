"""Staff passkeys: one signs in without the password and skips the TOTP step (both factors at once), satisfies an
org's two-factor requirement, and is managed on the account security page. Recovery stays the recovery codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import pytest
from sqlalchemy import select

from portal import db
from portal.extensions import limiter
from portal.models import LoginSession, Passkey
from portal.security import webauthn as rp
from portal.services import passkeys, staff
from portal.services.audit import Actor
from tests.admin.conftest import login, token
from tests.authenticator import SoftAuthenticator
from tests.factories import PASSWORD, make_customer, make_user


def post_json(client, path: str, body: dict | None = None, page: str = "/admin/login"):
    return client.post(path, json=body or {}, headers={"X-CSRFToken": token(client, page)})


def add_passkey(client, authenticator=None, name="YubiKey"):
    authenticator = authenticator or SoftAuthenticator()
    page = "/admin/account/security"
    options = post_json(client, "/admin/account/security/passkeys/options", page=page)
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json["publicKey"], rp.origin())
    created = post_json(
        client, "/admin/account/security/passkeys", {"credential": credential, "name": name}, page
    )
    assert created.status_code == 200, created.text
    return authenticator


def sign_in(client, authenticator):
    options = post_json(client, "/admin/login/passkey/options")
    credential = authenticator.get(options.json["publicKey"], rp.origin())
    return post_json(client, "/admin/login/passkey", {"credential": credential})


def enable_totp(user) -> None:
    secret = staff.new_totp_secret()
    code = pyotp.TOTP(secret).at(datetime.now(UTC))
    staff.enable_totp(Actor.of_user(user), user, secret, code)


@pytest.fixture(autouse=True)
def _fresh_counters(client):
    limiter.reset()


@pytest.fixture()
def enrolled(client, admin):
    """An admin with TOTP on and a passkey, signed out."""
    login(client, admin)
    authenticator = add_passkey(client)
    enable_totp(admin)
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/account/security")})
    return authenticator


def test_a_passkey_signs_in_and_skips_the_totp_step(client, org, admin, enrolled):
    response = sign_in(client, enrolled)
    assert response.status_code == 200, response.text
    assert response.json == {"redirect": f"/admin/{org.slug}/"}
    assert client.get(f"/admin/{org.slug}/").status_code == 200
    assert admin.last_login_at is not None


def test_the_password_still_asks_for_the_code(client, admin, enrolled):
    form = {"email": admin.email, "password": PASSWORD, "csrf_token": token(client, "/admin/login")}
    response = client.post("/admin/login", data=form)
    assert response.status_code == 303 and response.location.startswith("/admin/login/code")


def test_a_passkey_session_meets_the_orgs_two_factor_requirement(client, org, admin):
    """An admin without TOTP: a password session is sent to set it up; a passkey session is let in."""
    org.require_admin_2fa = True
    login(client, admin)
    authenticator = add_passkey(client)
    assert client.get(f"/admin/{org.slug}/").status_code == 303  # password only: set up 2FA first
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/account/security")})
    assert sign_in(client, authenticator).status_code == 200
    assert client.get(f"/admin/{org.slug}/").status_code == 200


def test_a_passkey_without_user_verification_is_not_a_second_factor(client, org, admin):
    """A security key without a PIN proves possession only: a staff sign-in with it would pass the org's two-factor
    requirement (and replace the password) on a touch. Staff passkey sign-ins need user verification."""
    org.require_admin_2fa = True
    login(client, admin)
    authenticator = add_passkey(client)
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/account/security")})
    authenticator.verifying = False
    assert (
        post_json(client, "/admin/login/passkey/options").json["publicKey"]["userVerification"] == "required"
    )
    assert sign_in(client, authenticator).status_code == 401
    assert client.get(f"/admin/{org.slug}/").status_code in (302, 303)


def test_a_staff_passkey_without_user_verification_is_not_registered(client, admin):
    login(client, admin)
    page = "/admin/account/security"
    options = post_json(client, "/admin/account/security/passkeys/options", page=page).json["publicKey"]
    assert options["authenticatorSelection"]["userVerification"] == "required"
    credential = SoftAuthenticator(verifying=False).create(options, rp.origin())
    created = post_json(client, "/admin/account/security/passkeys", {"credential": credential}, page)
    assert created.status_code == 422 and passkeys.list_for(admin) == []


def test_a_customers_passkey_does_not_open_the_admin_area(client, org):
    shopper = make_customer(org)
    authenticator = SoftAuthenticator()
    options, challenge = passkeys.registration_options(shopper, org)
    credential = authenticator.create(options, rp.origin())
    passkeys.register(Actor.of_customer(shopper), shopper, org, credential, challenge, "")
    assert sign_in(client, authenticator).status_code == 401
    assert client.get("/admin/").status_code == 303


def test_failed_passkey_sign_ins_count_in_the_staff_lockout(client, admin, enrolled):
    for _ in range(10):
        options = post_json(client, "/admin/login/passkey/options")
        phished = enrolled.get(options.json["publicKey"], "https://evil.example")
        assert post_json(client, "/admin/login/passkey", {"credential": phished}).status_code == 401
    assert sign_in(client, enrolled).status_code == 401


def test_the_security_page_manages_passkeys(client, admin):
    login(client, admin)
    add_passkey(client, name="Desk key")
    page = client.get("/admin/account/security").text
    assert "Desk key" in page and "Two-factor authentication" in page
    passkey = db.session.scalar(select(Passkey).where(Passkey.principal_id == admin.id))
    passkey_id, base = passkey.id, f"/admin/account/security/passkeys/{passkey.public_id}"
    csrf = token(client, "/admin/account/security")
    assert client.post(f"{base}/rename", data={"name": "Travel key", "csrf_token": csrf}).status_code == 303
    assert passkey.name == "Travel key"
    assert client.post(f"{base}/remove", data={"csrf_token": csrf}).status_code == 303
    assert db.session.get(Passkey, passkey_id) is None


def test_another_users_passkey_answers_404(client, admin, reader):
    login(client, reader)
    add_passkey(client)
    theirs = db.session.scalar(select(Passkey).where(Passkey.principal_id == reader.id))
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/account/security")})
    login(client, admin)
    csrf = token(client, "/admin/account/security")
    url = f"/admin/account/security/passkeys/{theirs.public_id}/remove"
    assert client.post(url, data={"csrf_token": csrf}).status_code == 404


def test_adding_a_passkey_needs_a_recent_sign_in(client, admin):
    login(client, admin)
    for row in db.session.scalars(select(LoginSession)):
        row.authenticated_at = row.created_at - rp.CHALLENGE_LIFETIME * 3
    page = "/admin/account/security"
    assert post_json(client, "/admin/account/security/passkeys/options", page=page).status_code == 403


def test_removing_a_passkey_needs_a_recent_sign_in_too(client, admin):
    login(client, admin)
    add_passkey(client, name="Desk key")
    passkey = db.session.scalar(select(Passkey).where(Passkey.principal_id == admin.id))
    for row in db.session.scalars(select(LoginSession)):
        row.authenticated_at = row.created_at - rp.CHALLENGE_LIFETIME * 3
    csrf = token(client, "/admin/account/security")
    url = f"/admin/account/security/passkeys/{passkey.public_id}/remove"
    assert client.post(url, data={"csrf_token": csrf}).status_code == 303
    assert "sign out and sign in again first" in client.get("/admin/account/security").text
    assert db.session.get(Passkey, passkey.id) is not None


def test_asking_for_sign_in_options_writes_no_cookie(client):
    """Like the shop's: an options answer landing after the password login must not carry an older session."""
    page = "/admin/login"
    options = post_json(client, "/admin/login/passkey/options", page=page)
    assert options.status_code == 200 and "Set-Cookie" not in options.headers


def test_the_login_page_offers_passkeys(client):
    html = client.get("/admin/login").text
    assert 'autocomplete="username webauthn"' in html and "data-passkey-sign-in" in html


def test_a_user_with_a_passkey_and_no_org_goes_to_the_switcher(client):
    loner = make_user(None)
    login(client, loner)
    authenticator = add_passkey(client)
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/account/security")})
    assert sign_in(client, authenticator).json == {"redirect": "/admin/"}
