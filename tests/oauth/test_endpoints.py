"""Revocation, the JWKS, the provisioning user, token verification through a protected endpoint,
malformed requests, and the signing-key rotation command."""

from __future__ import annotations

import time

import pytest
from flask import Blueprint, jsonify
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from portal import create_app, db, migrate
from portal.models import OAuthToken
from portal.security import signing_keys
from portal.security.bearer import current_token, require_token
from portal.security.tokens import TokenError, verify
from tests import factories
from tests.conftest import TransactionalClient
from tests.oauth.conftest import issued


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def provisioning_token(world, token):
    application, secret = factories.make_application(None, "user", user=world.admin)
    body = token(grant_type="client_credentials", client_id=application.client_id, client_secret=secret).json
    return application, secret, body["access_token"]


# --- revocation --------------------------------------------------------------------------------------------


def password_tokens(world, token):
    return token(
        grant_type="password",
        client_id=world.sales.client_id,
        username="shopper@example.com",
        password=factories.PASSWORD,
    ).json


def test_revoking_the_access_token_ends_the_grant(world, token, client):
    body = password_tokens(world, token)
    response = client.post(
        "/oauth/revoke", json={"client_id": world.sales.client_id, "token": body["access_token"]}
    )
    assert response.status_code == 200 and response.json == {}
    refreshed = token(
        grant_type="refresh_token", client_id=world.sales.client_id, refresh_token=body["refresh_token"]
    )
    assert refreshed.status_code == 400


def test_revoking_the_refresh_token(world, token, client):
    body = password_tokens(world, token)
    response = client.post(
        "/oauth/revoke", data={"client_id": world.sales.client_id, "token": body["refresh_token"]}
    )
    assert response.status_code == 200
    refreshed = token(
        grant_type="refresh_token", client_id=world.sales.client_id, refresh_token=body["refresh_token"]
    )
    assert refreshed.status_code == 400


def test_revoke_answers_200_for_unknown_and_foreign_tokens(world, token, client):
    body = password_tokens(world, token)
    for value in ("unknown", "a.b.c", body["access_token"]):
        response = client.post(
            "/oauth/revoke", json={"client_id": world.other_sales.client_id, "token": value}
        )
        assert response.status_code == 200 and response.json == {}
    # Another client's revocation did nothing.
    assert (
        token(
            grant_type="refresh_token", client_id=world.sales.client_id, refresh_token=body["refresh_token"]
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"client_id": "nope", "token": "x"}, 401, "invalid_client"),
        ({"token": "x"}, 401, "invalid_client"),
        ({"client_id": "INTEGRATION", "token": "x"}, 401, "invalid_client"),
        ({"client_id": "SALES"}, 400, "invalid_request"),
    ],
)
def test_revoke_refusals(world, client, body, status, error):
    body = {**body}
    body["client_id"] = {"INTEGRATION": world.integration.client_id, "SALES": world.sales.client_id}.get(
        body.get("client_id"), body.get("client_id")
    )
    response = client.post("/oauth/revoke", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == status and response.json["errors"][0]["title"] == error


# --- JWKS and provisioning ---------------------------------------------------------------------------------


def test_jwks_verifies_issued_tokens(world, token, client):
    jwks = client.get("/.well-known/jwks.json").json
    assert all("d" not in key and key["alg"] == "RS512" for key in jwks["keys"])
    access = token(grant_type="client_credentials", client_id=world.sales.client_id).json["access_token"]
    assert jwt.decode(access, KeySet.import_key_set(jwks), algorithms=["RS512"]).claims["jti"]


def test_provisioning_user(world, token, client):
    _, _, access = provisioning_token(world, token)
    response = client.get("/provisioning/api/user", headers=bearer(access))
    assert response.status_code == 200
    assert response.content_type == "application/vnd.api+json"
    assert response.json == {
        "data": {
            "id": world.admin.public_id,
            "type": "users",
            "attributes": {
                "email": world.admin.email,
                "first_name": "Sam",
                "last_name": "Staff",
                "time_zone": "UTC",
                "otp_required_for_login": False,
            },
        }
    }


def test_provisioning_user_refuses_other_tokens(world, token, client):
    guest = token(grant_type="client_credentials", client_id=world.sales.client_id).json["access_token"]
    integration = factories.token_for(world.integration)
    for value in (guest, integration, "garbage"):
        assert client.get("/provisioning/api/user", headers=bearer(value)).status_code == 401
    assert client.get("/provisioning/api/user").status_code == 401
    _, _, access = provisioning_token(world, token)
    assert client.get(f"/provisioning/api/user?access_token={access}").status_code == 401


# --- verify(): a valid signature is not enough ---------------------------------------------------------------

probe = Blueprint("oauth_probe", __name__)


WHOAMI = "/api/test-only/whoami"


@probe.get(WHOAMI)
@require_token()
def whoami():
    context = current_token()
    return jsonify(token_type=context.token_type)


@pytest.fixture(scope="module")
def probe_app(app):
    """A second app on the same database and keys, with a test-only endpoint behind require_token()."""
    config = {
        k: app.config[k] for k in ("TESTING", "DATABASE_URL", "SECRET_KEY", "JWT_KEYS_PATH", "MAIL_DIR")
    }
    second = create_app({**config, "SERVER_NAME": None})
    second.register_blueprint(probe)
    second.test_client_class = TransactionalClient
    return second


@pytest.fixture()
def protected(app, probe_app, db_session):
    probe_app.extensions["db_bind"] = app.extensions["db_bind"]  # the test's transaction
    yield probe_app.test_client()
    probe_app.extensions.pop("db_bind", None)


def _revoked_token(w, access):
    jti = signing_keys.verified_claims(access)["jti"]
    db.session.scalar(select(OAuthToken).where(OAuthToken.jti == jti)).revoked_at = db.utcnow()


def _revoked_application(w, access):
    w.sso.revoked_at = db.utcnow()


def _anonymized(w, access):
    w.member.anonymization_status = "completed"


def _disabled_user(w, access):
    w.admin.disabled_at = db.utcnow()


def _left_org(w, access):
    w.admin.memberships.clear()


def _sso_customer(world, token):
    from tests.oauth.test_jwt_bearer import assertion, exchange

    claims = {"owner": {"type": "Customer", "id": world.member.public_id}}
    return exchange(token, world.sso, world.sso_secret, assertion(claims)).json["access_token"]


def _integration_user(world, token):
    from tests.oauth.test_jwt_bearer import assertion, exchange

    claims = {"owner": {"type": "User", "id": world.admin.public_id}}
    return exchange(token, world.integration, world.secret, assertion(claims)).json["access_token"]


VERIFY = [
    ("revoked token", _sso_customer, _revoked_token),
    ("revoked application", _sso_customer, _revoked_application),
    ("anonymized customer", _sso_customer, _anonymized),
    ("disabled user", _integration_user, _disabled_user),
    ("user removed from the org", _integration_user, _left_org),
]


@pytest.mark.parametrize(("case", "get", "spoil"), VERIFY, ids=[v[0] for v in VERIFY])
def test_verify_refuses(world, token, protected, case, get, spoil):
    access = get(world, token)
    assert protected.get(WHOAMI, headers=bearer(access)).status_code == 200
    spoil(world, access)
    db.session.flush()
    response = protected.get(WHOAMI, headers=bearer(access))
    assert response.status_code == 401
    assert response.json["errors"][0]["code"] == "UNAUTHORIZED"


def test_disabled_provisioning_user(world, token, client):
    _, _, access = provisioning_token(world, token)
    world.admin.disabled_at = db.utcnow()
    assert client.get("/provisioning/api/user", headers=bearer(access)).status_code == 401


# --- malformed requests: 4xx, never 5xx --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "status", "title"),
    [
        ({"data": "not json", "content_type": "application/json"}, 400, "invalid_request"),
        ({"data": "[1, 2]", "content_type": "application/json"}, 400, "invalid_request"),
        ({"data": "null", "content_type": "application/json"}, 400, "invalid_request"),
        ({"json": {"grant_type": 5}}, 400, "invalid_request"),
        ({"json": {"grant_type": {"a": 1}}}, 400, "invalid_request"),
        ({"json": {}}, 400, "invalid_request"),
        ({"data": b"\x00\xff", "content_type": "application/octet-stream"}, 400, "invalid_request"),
        ({"json": {"grant_type": "implicit", "client_id": "x"}}, 400, "unsupported_grant_type"),
        (
            {"json": {"grant_type": "authorization_code", "client_id": "x", "code": "y"}},
            401,
            "invalid_client",
        ),
        ({"json": {"grant_type": "client_credentials", "client_id": ["x"]}}, 400, "invalid_request"),
        ({"json": {"grant_type": "client_credentials", "client_id": "x" * 100_000}}, 401, "invalid_client"),
        (
            {"json": {"grant_type": "client_credentials", "scope": "market:code:" + "x" * 1000}},
            401,
            "invalid_client",
        ),
    ],
)
def test_malformed_requests(client, kwargs, status, title):
    response = client.post("/oauth/token", **kwargs)
    assert response.status_code == status, response.json
    assert response.json["errors"][0]["title"] == title
    assert issued() == 0


def test_huge_body_is_413(client):
    response = client.post("/oauth/token", data="x" * (2 * 1024 * 1024), content_type="application/json")
    assert response.status_code == 413
    assert response.json["errors"][0]["status"] == "413"


def test_too_many_scopes(world, token):
    response = token(
        grant_type="client_credentials", client_id=world.sales.client_id, scope=" ".join(["market:all"] * 11)
    )
    assert response.status_code == 400 and response.json["errors"][0]["title"] == "invalid_scope"


def test_get_is_405(client):
    assert client.get("/oauth/token").status_code == 405


# --- key rotation ------------------------------------------------------------------------------------------


def test_rotate_signing_key_command(app, world, token, client):
    old = token(grant_type="client_credentials", client_id=world.sales.client_id).json["access_token"]
    old_kid = signing_keys.signing_key(app).kid
    result = app.test_cli_runner().invoke(args=["rotate-signing-key"])
    assert result.exit_code == 0, result.output
    new_kid = signing_keys.signing_key(app).kid
    assert new_kid != old_kid and new_kid in result.output
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]}
    assert {old_kid, new_kid} <= kids
    new = token(grant_type="client_credentials", client_id=world.sales.client_id).json["access_token"]
    assert jwt.decode(new, signing_keys.key_set(app), algorithms=["RS512"]).header["kid"] == new_kid
    # Tokens signed by the previous key still verify.
    assert verify(old).token_type == "sales_channel:guest"


def test_a_dropped_key_stops_verifying_tokens_already_seen(app, world, token):
    """Verified signatures are remembered per key set: a rotation that drops a key ends its tokens at once, even
    one verified a moment before."""
    old = token(grant_type="client_credentials", client_id=world.sales.client_id).json["access_token"]
    assert verify(old).token_type == "sales_channel:guest"
    signing_keys.rotate(app, max_token_lifetime=0)  # no token may live on the old key: it is dropped
    with pytest.raises(TokenError):
        verify(old)


def test_first_key_set_is_written_once(tmp_path):
    """Workers that start together must all sign with the key that ends up in the file."""
    config = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db"}
    app = create_app({**config, "JWT_KEYS_PATH": str(tmp_path / "keys" / "keys.json")})
    first = signing_keys.signing_key(app).kid
    signing_keys._create(app, [signing_keys._generate(0)])  # a second worker losing the race
    app.extensions.pop("jwt_keys")
    assert signing_keys.signing_key(app).kid == first
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["keys.json"]


def test_running_workers_see_a_rotation(tmp_path):
    """Another process rotates the key file: this app signs with the new key without a restart."""
    config = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db"}
    worker = create_app({**config, "JWT_KEYS_PATH": str(tmp_path / "keys.json")})
    operator = create_app({**config, "JWT_KEYS_PATH": str(tmp_path / "keys.json")})
    old = signing_keys.signing_key(worker).kid
    new = signing_keys.rotate(operator, max_token_lifetime=3600)
    assert signing_keys.signing_key(worker).kid == new != old
    assert {old, new} == {k["kid"] for k in signing_keys.jwks(worker)["keys"]}


def test_a_key_published_first_signs_only_when_its_time_comes(tmp_path, monkeypatch):
    """Several instances share PORTAL_JWT_KEYS: a key rotated with --publish-for is in every new set's JWKS at once
    but signs later, so an instance still on the old set never sees a token it can't verify."""
    config = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/portal.db"}
    migrate.upgrade(config["DATABASE_URL"])  # the command reads the longest token lifetime
    operator = create_app({**config, "JWT_KEYS_PATH": str(tmp_path / "keys.json")})
    old = signing_keys.signing_key(operator).kid
    before = (tmp_path / "keys.json").read_text()
    result = operator.test_cli_runner().invoke(args=["rotate-signing-key", "--publish-for", "600"])
    assert result.exit_code == 0 and "signs in 600 s" in result.output, result.output
    after = (tmp_path / "keys.json").read_text()
    still_old = create_app({**config, "JWT_KEYS": before})
    rolled = create_app({**config, "JWT_KEYS": after})
    [new] = {k["kid"] for k in signing_keys.jwks(rolled)["keys"]} - {old}
    assert signing_keys.signing_key(rolled).kid == old  # published, not signing yet
    assert {k["kid"] for k in signing_keys.jwks(still_old)["keys"]} == {old}
    later = time.time() + 601
    monkeypatch.setattr(signing_keys.time, "time", lambda: later)
    assert signing_keys.signing_key(rolled).kid == new
