"""Admin settings for the authorization code grant: webapps with redirect URIs, grants listed and revoked, the
password grant switch; and a webapp's sign-in with the second factor."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp
import pytest

from portal import db
from portal.models import Application, OAuthConsent, OAuthToken
from portal.services import consents, orgs, staff
from portal.services.audit import SYSTEM, Actor
from tests.admin.conftest import csrf_from, login, token
from tests.factories import PASSWORD, make_customer, make_org

CALLBACK = "https://app.example.com/cb"


def create(client, org, **fields):
    data = {"name": "Helpdesk", "kind": "webapp", "role": "admin", "redirect_uris": CALLBACK, **fields}
    return client.post(
        f"/admin/{org.slug}/settings/applications",
        data={"csrf_token": token(client, f"/admin/{org.slug}/settings"), **data},
    )


def test_admin_creates_a_webapp_with_its_redirect_uri(client, org, admin):
    login(client, admin)
    response = create(client, org, redirect_uris=f"{CALLBACK}\nhttp://localhost:3000/cb\n")
    assert response.status_code == 201, response.text
    application = db.session.query(Application).filter_by(name="Helpdesk").one()
    assert application.redirect_uris == [CALLBACK, "http://localhost:3000/cb"] and application.confidential
    assert "Client secret" in response.text and CALLBACK in response.text


@pytest.mark.parametrize(
    "uris",
    [
        "",  # a webapp needs one
        "http://app.example.com/cb",  # https only
        "https://app.example.com/cb#done",  # no fragment
        "https://user:pw@app.example.com/cb",
        "/relative/cb",
        "https://app.example.com/a b",
        "javascript:alert(1)",
    ],
)
def test_bad_redirect_uris_are_refused_with_nothing_written(client, org, admin, uris):
    login(client, admin)
    response = create(client, org, redirect_uris=uris)
    assert response.status_code == 422
    assert 'id="redirect_uris-error"' in response.text
    assert db.session.query(Application).filter_by(name="Helpdesk").count() == 0


def test_http_localhost_is_only_for_development(app, org, monkeypatch, db_session):
    monkeypatch.setitem(app.config, "ENV_MODE", "production")
    with pytest.raises(Exception, match="must be https"):
        orgs.create_application(SYSTEM, org, name="x", kind="webapp", redirect_uris=["http://localhost/cb"])


def test_integrations_have_no_redirect_uris(db_session, org):
    with pytest.raises(Exception, match="only sales channels and webapps"):
        orgs.create_application(SYSTEM, org, name="x", kind="integration", redirect_uris=[CALLBACK])


def test_read_only_members_cannot_create_or_revoke(client, org, reader):
    login(client, reader)
    assert create(client, org).status_code == 403


def edit_uris(client, org, application, uris: str):
    return client.post(
        f"/admin/{org.slug}/settings/applications/{application.public_id}/redirect-uris",
        data={"csrf_token": token(client, f"/admin/{org.slug}/settings"), "redirect_uris": uris},
    )


def test_an_admin_fixes_redirect_uris_without_a_new_client_id(client, org, admin):
    application, _ = orgs.create_application(
        SYSTEM, org, name="Store", kind="sales_channel", redirect_uris=[CALLBACK]
    )
    client_id = application.client_id
    login(client, admin)
    assert "Edit redirect URIs" in client.get(f"/admin/{org.slug}/settings").text
    fixed = f"{CALLBACK}\nhttps://app.example.com/signed-out"
    assert edit_uris(client, org, application, fixed).status_code == 303
    assert application.redirect_uris == [CALLBACK, "https://app.example.com/signed-out"]
    assert application.client_id == client_id
    assert "Redirect URIs of Store saved." in client.get(f"/admin/{org.slug}/settings").text
    bad = edit_uris(client, org, application, "http://app.example.com/cb")
    assert bad.status_code == 422 and "Redirect URIs of Store not saved" in bad.text
    assert application.redirect_uris == [
        CALLBACK,
        "https://app.example.com/signed-out",
    ]  # nothing half-written


def test_redirect_uris_only_for_the_right_kinds_roles_and_org(client, org, admin, reader, other_org):
    webapp, _ = orgs.create_application(SYSTEM, org, name="Desk", kind="webapp", redirect_uris=[CALLBACK])
    integration, _ = orgs.create_application(SYSTEM, org, name="ERP", kind="integration")
    theirs, _ = orgs.create_application(SYSTEM, other_org, name="Theirs", kind="sales_channel")
    login(client, admin)
    assert edit_uris(client, org, webapp, "").status_code == 422  # a webapp needs one
    assert edit_uris(client, org, integration, CALLBACK).status_code == 422
    assert integration.redirect_uris == [] and webapp.redirect_uris == [CALLBACK]
    assert edit_uris(client, org, theirs, CALLBACK).status_code == 404
    reader_client = client.application.test_client()
    login(reader_client, reader)
    assert edit_uris(reader_client, org, webapp, "https://evil.example/cb").status_code == 403
    assert webapp.redirect_uris == [CALLBACK]


def test_grants_are_listed_and_revoking_one_ends_its_tokens(client, org, admin, other_org):
    application, _ = orgs.create_application(
        SYSTEM, org, name="Helpdesk", kind="webapp", redirect_uris=[CALLBACK]
    )
    shopper = make_customer(org, "grant@example.com")
    consent = consents.give_consent(Actor.of_customer(shopper), application, shopper, "")
    from portal.security import tokens

    issued = tokens.issue(application, owner=shopper, refresh=True)
    login(client, admin)
    page = client.get(f"/admin/{org.slug}/settings")
    assert "grant@example.com" in page.text and "Helpdesk" in page.text
    # another org's admin gets a 404 for this grant
    foreign = client.post(
        f"/admin/{other_org.slug}/settings/grants/{consent.public_id}",
        data={"csrf_token": csrf_from(page.text)},
    )
    assert foreign.status_code == 404
    response = client.post(
        f"/admin/{org.slug}/settings/grants/{consent.public_id}", data={"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 303
    db.session.refresh(consent)
    assert consent.revoked_at is not None and not consents.has_consent(application, shopper)
    row = db.session.query(OAuthToken).filter_by(application_id=application.id).one()
    assert row.revoked_at is not None and issued["access_token"]
    assert "grant@example.com" not in client.get(f"/admin/{org.slug}/settings").text


def test_grant_of_another_org_is_404(client, org, admin):
    other = make_org()
    application, _ = orgs.create_application(SYSTEM, other, name="X", kind="webapp", redirect_uris=[CALLBACK])
    consent = consents.give_consent(SYSTEM, application, make_customer(other), "")
    login(client, admin)
    csrf = token(client, f"/admin/{org.slug}/settings")
    response = client.post(
        f"/admin/{org.slug}/settings/grants/{consent.public_id}", data={"csrf_token": csrf}
    )
    assert response.status_code == 404
    assert db.session.get(OAuthConsent, consent.id).revoked_at is None


def test_password_grant_switch_in_settings(client, org, admin):
    login(client, admin)
    page = client.get(f"/admin/{org.slug}/settings")
    assert "checked" in re.search(r'<input[^>]*name="password_grant"[^>]*>', page.text).group(0)
    data = {"csrf_token": csrf_from(page.text), "name": org.name, "primary_color": "#1f4fd1"}
    assert client.post(f"/admin/{org.slug}/settings", data=data).status_code == 303
    db.session.refresh(org)
    assert not orgs.password_grant_enabled(org)
    assert client.post(f"/admin/{org.slug}/settings", data={**data, "password_grant": "y"}).status_code == 303
    db.session.refresh(org)
    assert orgs.password_grant_enabled(org)


def test_webapp_sign_in_asks_for_the_second_factor(client, org, admin):
    secret = staff.new_totp_secret()
    staff.enable_totp(Actor.of_user(admin), admin, secret, pyotp.TOTP(secret).now())
    admin.totp_last_step = None
    application, _ = orgs.create_application(
        SYSTEM, org, name="Helpdesk", kind="webapp", redirect_uris=[CALLBACK]
    )
    path = "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": application.client_id, "redirect_uri": CALLBACK, "state": "s"}
    )
    assert urlsplit(client.get(path).location).path == "/admin/login"
    page = client.get("/admin/login?" + urlencode({"next": path}))
    step = client.post(
        "/admin/login",
        data={"email": admin.email, "password": PASSWORD, "next": path, "csrf_token": csrf_from(page.text)},
    )
    assert step.location.startswith("/admin/login/code")
    assert client.get(path).status_code == 303  # the password alone signs no one in
    code_page = client.get(step.location)
    done = client.post(
        step.location, data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(code_page.text)}
    )
    assert done.status_code == 303 and done.location == path
    consent_page = client.get(path)
    assert consent_page.status_code == 200 and "Allow Helpdesk to act for you?" in consent_page.text
    back = client.post(path, data={"csrf_token": csrf_from(consent_page.text), "allow": "1"})
    assert back.status_code == 302 and "code" in parse_qs(urlsplit(back.location).query)
