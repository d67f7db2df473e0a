"""Interop: third-party clients complete the authorization code flow against a live portal over real HTTP —
authlib's OAuth2Session (a storefront: public client, PKCE S256) and @commercelayer/js-auth (a webapp)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from portal import db
from portal.extensions import limiter
from portal.services import orgs
from portal.services.audit import SYSTEM
from tests import factories

pytestmark = pytest.mark.interop
ROOT = Path(__file__).resolve().parents[2]
CALLBACK = "http://localhost:8765/callback"  # never fetched: the client reads the code from the redirect
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture()
def fresh_budget(live_server):
    with live_server.app.app_context():
        limiter.reset()  # the live server shares the token endpoint's per-IP budget with other live tests
    yield
    with live_server.app.app_context():
        limiter.reset()


def _sign_in_and_allow(browser: requests.Session, base: str, url: str, email: str, login_path: str) -> str:
    """What the person does in the browser: sign in where /oauth/authorize sends them, allow, return the callback."""
    sent = browser.get(url, allow_redirects=False)
    assert sent.status_code == 303 and urlsplit(sent.headers["Location"]).path == login_path, sent.text
    login_page = browser.get(urljoin(base, sent.headers["Location"]))
    back = urlsplit(url).path + "?" + urlsplit(url).query
    signed_in = browser.post(
        urljoin(base, login_path),
        data={
            "csrf_token": CSRF.search(login_page.text).group(1),
            "email": email,
            "password": factories.PASSWORD,
            "next": back,
        },
        allow_redirects=False,
    )
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == back, signed_in.text
    consent = browser.get(urljoin(base, back))
    assert consent.status_code == 200 and "consent-form" in consent.text
    allowed = browser.post(
        urljoin(base, back),
        data={"csrf_token": CSRF.search(consent.text).group(1), "allow": "1"},
        allow_redirects=False,
    )
    assert allowed.status_code == 302, allowed.text
    return allowed.headers["Location"]


def test_authlib_oauth2session_completes_the_flow(live_server, fresh_budget):
    base = live_server.url
    with live_server.data():
        org = factories.make_org(f"authlib-{secrets.token_hex(3)}")
        storefront, _ = orgs.create_application(
            SYSTEM, org, name="Storefront", kind="sales_channel", redirect_uris=[CALLBACK]
        )
        customer = factories.make_customer(org, password=factories.PASSWORD)
        client_id, email, customer_id = storefront.client_id, customer.email, customer.public_id
        db.session.commit()
    client = OAuth2Session(
        client_id,
        redirect_uri=CALLBACK,
        scope="market:code:main",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(64)
    url, state = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    callback = _sign_in_and_allow(requests.Session(), base, url, email, f"/{org.slug}/account/login")
    assert callback.startswith(CALLBACK) and parse_qs(urlsplit(callback).query)["state"] == [state]
    token = client.fetch_token(
        f"{base}/oauth/token", authorization_response=callback, code_verifier=verifier, state=state
    )
    assert token["owner_type"] == "customer" and token["owner_id"] == customer_id and token["refresh_token"]
    me = client.get(f"{base}/api/customers/{customer_id}", headers={"Accept": "application/vnd.api+json"})
    assert me.status_code == 200 and me.json()["data"]["attributes"]["email"] == email
    refreshed = client.refresh_token(f"{base}/oauth/token")
    assert refreshed["access_token"] != token["access_token"]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    reused = requests.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert reused.status_code == 400 and reused.json()["errors"][0]["title"] == "invalid_grant"
    gone = client.get(f"{base}/api/customers/{customer_id}", headers={"Accept": "application/vnd.api+json"})
    assert gone.status_code == 401  # the reuse revoked every token of the grant, the refreshed one too


def test_js_auth_exchanges_a_webapp_code(live_server, fresh_budget):
    node = shutil.which("node")
    assert node, "node is required for the interop tests (Node.js 20 is on the CI machines)"
    assert (ROOT / "node_modules" / "@commercelayer" / "js-auth").exists(), "run `npm ci` first"
    base = live_server.url
    with live_server.data():
        org = factories.make_org(f"webapp-{secrets.token_hex(3)}")
        webapp, secret = orgs.create_application(
            SYSTEM, org, name="Helpdesk", kind="webapp", redirect_uris=[CALLBACK]
        )
        admin = factories.make_user(org, "admin")
        client_id, email, user_id = webapp.client_id, admin.email, admin.public_id
        db.session.commit()
    client = OAuth2Session(client_id, redirect_uri=CALLBACK)  # js-auth sends no code_verifier: no PKCE here
    url, _state = client.create_authorization_url(f"{base}/oauth/authorize")
    callback = _sign_in_and_allow(requests.Session(), base, url, email, "/admin/login")
    env = {
        "base": base,
        "domain": live_server.app.config["DOMAIN"],
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": CALLBACK,
        "code": parse_qs(urlsplit(callback).query)["code"][0],
        "user_id": user_id,
    }
    result = subprocess.run(  # noqa: S603 - fixed command
        [node, "--test", str(ROOT / "tests" / "interop" / "auth_code.test.mjs")],
        cwd=ROOT,
        env={**os.environ, "CL_AUTH_CODE_INTEROP": json.dumps(env)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 1" in result.stdout and "# fail 0" in result.stdout, result.stdout
