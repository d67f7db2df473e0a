"""urn:ietf:params:oauth:grant-type:jwt-bearer: owners, custom claims, strict mode, and forged assertions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from portal import db
from portal.security import signing_keys
from tests import factories
from tests.oauth.conftest import JWT_BEARER, issued

CLAIMS = "https://commercelayer.io/claims"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(claims, *, header=None, iat=None, extra=None, raw_payload=None) -> str:
    """What js-auth's createAssertion builds: HS512 with the literal key "cl", iat added."""
    header = header or {"alg": "HS512", "typ": "JWT"}
    if raw_payload is None:
        payload = {CLAIMS: claims, "iat": int(time.time()) if iat is None else iat, **(extra or {})}
        raw_payload = json.dumps(payload).encode()
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(raw_payload)}"
    signature = hmac.new(b"cl", signing_input.encode(), hashlib.sha512).digest()
    return f"{signing_input}.{_b64(signature)}"


def exchange(token, application, secret, value, **extra):
    return token(
        grant_type=JWT_BEARER, client_id=application.client_id, client_secret=secret, assertion=value, **extra
    )


def decoded(body):
    return jwt.decode(body["access_token"], signing_keys.key_set(), algorithms=["RS512"]).claims


def test_user_owner_through_an_integration(world, token):
    response = exchange(
        token,
        world.integration,
        world.secret,
        assertion({"owner": {"type": "User", "id": world.admin.public_id}}),
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["owner_type"] == "user" and body["owner_id"] == world.admin.public_id
    assert body["scope"] == "market:all" and body["refresh_token"]
    payload = decoded(body)
    assert payload["owner"] == {"type": "User", "id": world.admin.public_id}
    assert payload["application"]["kind"] == "integration" and "custom_claim" not in payload


def test_customer_owner_through_a_sales_channel_with_custom_claim(world, token):
    claims = {"owner": {"type": "Customer", "id": world.member.public_id}, "custom_claim": {"tier": "gold"}}
    response = exchange(token, world.sso, world.sso_secret, assertion(claims), scope="market:code:vip")
    assert response.status_code == 200, response.json
    assert response.json["owner_type"] == "customer"
    payload = decoded(response.json)
    assert payload["custom_claim"] == {"tier": "gold"}
    assert payload["owner"] == {"type": "Customer", "id": world.member.public_id}


def test_custom_claim_alone_gives_an_ownerless_token(world, token):
    response = exchange(token, world.integration, world.secret, assertion({"custom_claim": {"a": 1}}))
    assert response.status_code == 200, response.json
    assert "owner_id" not in response.json and decoded(response.json)["custom_claim"] == {"a": 1}


def test_jti_may_be_used_once(world, token):
    value = assertion({"owner": {"type": "User", "id": world.admin.public_id}}, extra={"jti": "once"})
    assert exchange(token, world.integration, world.secret, value).status_code == 200
    again = exchange(token, world.integration, world.secret, value)
    assert again.status_code == 400 and again.json["errors"][0]["title"] == "invalid_assertion"
    # The same jti from another client is a different assertion.
    other_user = factories.make_user(world.other_org)
    other = assertion({"owner": {"type": "User", "id": other_user.public_id}}, extra={"jti": "once"})
    assert exchange(token, world.other_integration, world.other_secret, other).status_code == 200


def test_an_assertion_without_jti_is_exchanged_once_and_only_for_five_minutes(world, token):
    """Commerce Layer's createAssertion sets no jti: the whole assertion is remembered instead (SECURITY.md)."""
    owner = {"owner": {"type": "User", "id": world.admin.public_id}}
    value = assertion(owner)
    assert exchange(token, world.integration, world.secret, value).status_code == 200
    replayed = exchange(token, world.integration, world.secret, value)
    assert replayed.status_code == 400 and replayed.json["errors"][0]["title"] == "invalid_assertion"
    before = issued()
    stale = assertion(owner, iat=int(time.time()) - 301)
    refused = exchange(token, world.integration, world.secret, stale)
    assert refused.status_code == 400 and issued() == before
    # A jti keeps the hour Commerce Layer allows.
    assert (
        exchange(
            token,
            world.integration,
            world.secret,
            assertion(owner, iat=int(time.time()) - 1800, extra={"jti": "j1"}),
        ).status_code
        == 200
    )


def _strict(world, key, algorithms):
    world.integration.jwt_strict = True
    world.integration.jwt_keys = KeySet([key]).as_dict(private=False)
    world.integration.jwt_algorithms = algorithms
    db.session.flush()


def _signed(key, alg, claims, **header):
    payload = {CLAIMS: claims, "iat": int(time.time())}
    return jwt.encode({"alg": alg, **header}, payload, key, algorithms=[alg])


def test_strict_mode_accepts_a_registered_key(world, token):
    key = ECKey.generate_key("P-256", auto_kid=True)
    _strict(world, key, ["ES256"])
    value = _signed(key, "ES256", {"owner": {"type": "User", "id": world.admin.public_id}}, kid=key.kid)
    response = exchange(token, world.integration, world.secret, value)
    assert response.status_code == 200, response.json


def _forged_key(world):
    registered = RSAKey.generate_key(2048, auto_kid=True)
    _strict(world, registered, ["RS256"])
    attacker = RSAKey.generate_key(2048, parameters={"kid": registered.kid})
    return _signed(
        attacker, "RS256", {"owner": {"type": "User", "id": world.admin.public_id}}, kid=registered.kid
    )


def _disallowed_alg(world):
    key = OctKey.generate_key(512, auto_kid=True)
    _strict(world, key, ["ES256"])
    return _signed(key, "HS512", {"owner": {"type": "User", "id": world.admin.public_id}}, kid=key.kid)


def _key_confusion(world):
    """HS256 keyed with the registered RSA public key (the classic algorithm-confusion attack)."""
    registered = RSAKey.generate_key(2048, auto_kid=True)
    _strict(world, registered, ["RS256", "HS256"])
    public_pem = registered.as_pem(private=False)
    header = {"alg": "HS256", "typ": "JWT", "kid": registered.kid}
    payload = {CLAIMS: {"owner": {"type": "User", "id": world.admin.public_id}}, "iat": int(time.time())}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"


def _default_mode_assertion_in_strict(world):
    _strict(world, ECKey.generate_key("P-256", auto_kid=True), ["ES256"])
    return assertion({"owner": {"type": "User", "id": world.admin.public_id}})


def _jku(world):
    registered = ECKey.generate_key("P-256", auto_kid=True)
    _strict(world, registered, ["ES256"])
    attacker = ECKey.generate_key("P-256", auto_kid=True)
    return _signed(
        attacker,
        "ES256",
        {"owner": {"type": "User", "id": world.admin.public_id}},
        kid=attacker.kid,
        jku="https://attacker.example/jwks.json",
    )


def _replayed(world):
    value = assertion({"owner": {"type": "User", "id": world.admin.public_id}}, extra={"jti": "replay-me"})
    db.session.add(
        factories_used_assertion(world.integration, "replay-me"),
    )
    return value


def factories_used_assertion(application, jti):
    from datetime import timedelta

    from portal.models.auth import UsedAssertion

    return UsedAssertion(application_id=application.id, jti=jti, expires_at=db.utcnow() + timedelta(hours=1))


def _disabled_user(world):
    world.admin.disabled_at = db.utcnow()
    return assertion({"owner": {"type": "User", "id": world.admin.public_id}})


def _anonymized_customer(world):
    world.member.anonymization_status = "completed"
    return assertion({"owner": {"type": "Customer", "id": world.member.public_id}})


def user_owner(w):
    return {"owner": {"type": "User", "id": w.admin.public_id}}


def _none_alg(w):
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({CLAIMS: user_owner(w), "iat": int(time.time())}).encode())
    return f"{header}.{payload}."


# (case, assertion builder, client): client "integration" or "sso" (the sales channel with a secret).
FORGED = [
    ("malformed", lambda w: "not-a-jwt", "integration"),
    ("two segments", lambda w: "eyJhbGciOiJIUzUxMiJ9.e30", "integration"),
    ("payload not json", lambda w: assertion(None, raw_payload=b"\xff\xfe not json"), "integration"),
    ("payload not an object", lambda w: assertion(None, raw_payload=b"[1, 2, 3]"), "integration"),
    ("header not an object", lambda w: assertion(user_owner(w), header=[1]), "integration"),
    ("oversize", lambda w: assertion({**user_owner(w), "custom_claim": {"pad": "x" * 4096}}), "integration"),
    ("alg none", _none_alg, "integration"),
    (
        "no claims",
        lambda w: assertion(None, raw_payload=json.dumps({"iat": int(time.time())}).encode()),
        "integration",
    ),
    ("empty claims", lambda w: assertion({}), "integration"),
    ("claims not an object", lambda w: assertion("User"), "integration"),
    ("owner not an object", lambda w: assertion({"owner": "admin"}), "integration"),
    ("owner without id", lambda w: assertion({"owner": {"type": "User"}}), "integration"),
    (
        "owner of unknown type",
        lambda w: assertion({"owner": {"type": "Admin", "id": w.admin.public_id}}),
        "integration",
    ),
    ("custom_claim not an object", lambda w: assertion({"custom_claim": "x"}), "integration"),
    ("unknown user", lambda w: assertion({"owner": {"type": "User", "id": "nobody"}}), "integration"),
    (
        "user not a member",
        lambda w: assertion({"owner": {"type": "User", "id": factories.make_user().public_id}}),
        "integration",
    ),
    (
        "other org's user",
        lambda w: assertion({"owner": {"type": "User", "id": factories.make_user(w.other_org).public_id}}),
        "integration",
    ),
    ("disabled user", _disabled_user, "integration"),
    (
        "customer owner via integration",
        lambda w: assertion({"owner": {"type": "Customer", "id": w.member.public_id}}),
        "integration",
    ),
    ("user owner via sales channel", lambda w: assertion(user_owner(w)), "sso"),
    (
        "other org's customer",
        lambda w: assertion(
            {"owner": {"type": "Customer", "id": factories.make_customer(w.other_org).public_id}}
        ),
        "sso",
    ),
    ("anonymized customer", _anonymized_customer, "sso"),
    (
        "missing iat",
        lambda w: assertion(None, raw_payload=json.dumps({CLAIMS: user_owner(w)}).encode()),
        "integration",
    ),
    ("future iat", lambda w: assertion(user_owner(w), iat=int(time.time()) + 600), "integration"),
    ("iat too old", lambda w: assertion(user_owner(w), iat=int(time.time()) - 7200), "integration"),
    ("iat not a number", lambda w: assertion(user_owner(w), iat="yesterday"), "integration"),
    ("expired", lambda w: assertion(user_owner(w), extra={"exp": int(time.time()) - 120}), "integration"),
    (
        "not yet valid",
        lambda w: assertion(user_owner(w), extra={"nbf": int(time.time()) + 600}),
        "integration",
    ),
    ("jti not a string", lambda w: assertion(user_owner(w), extra={"jti": 42}), "integration"),
    ("replayed jti", _replayed, "integration"),
    ("strict: wrong key", _forged_key, "integration"),
    ("strict: disallowed alg", _disallowed_alg, "integration"),
    ("strict: RSA public key as HMAC secret", _key_confusion, "integration"),
    ("strict: js-auth's HS512 'cl' assertion", _default_mode_assertion_in_strict, "integration"),
    ("strict: attacker key via jku/kid", _jku, "integration"),
]


@pytest.mark.parametrize(("case", "build", "client_name"), FORGED, ids=[f[0] for f in FORGED])
def test_forged_assertions_are_refused(world, token, case, build, client_name):
    value = build(world)
    application, secret = (
        (world.integration, world.secret) if client_name == "integration" else (world.sso, world.sso_secret)
    )
    before = issued()
    response = exchange(token, application, secret, value)
    assert response.status_code == 400, response.json
    assert response.json == {
        "errors": [
            {
                "code": "BAD_REQUEST",
                "title": "invalid_assertion",
                "detail": "The provided assertion is invalid.",
                "status": 400,
            }
        ]
    }
    assert issued() == before


CLIENT_REFUSALS = [
    ("no secret", lambda w: {"client_secret": None}, 401, "invalid_client"),
    (
        "wrong secret",
        lambda w: {"client_id": w.integration.client_id, "client_secret": "x"},
        401,
        "invalid_client",
    ),
    (
        "public sales channel",
        lambda w: {"client_id": w.sales.client_id, "client_secret": None},
        401,
        "invalid_client",
    ),
    (
        "other org's integration",
        lambda w: {"client_id": w.other_integration.client_id, "client_secret": w.other_secret},
        400,
        "invalid_assertion",
    ),
    ("missing assertion", lambda w: {"assertion": None}, 400, "invalid_request"),
    ("assertion not a string", lambda w: {"assertion": {"alg": "none"}}, 400, "invalid_request"),
]


@pytest.mark.parametrize(
    ("case", "change", "status", "error"), CLIENT_REFUSALS, ids=[c[0] for c in CLIENT_REFUSALS]
)
def test_client_refusals(world, token, case, change, status, error):
    body = {
        "grant_type": JWT_BEARER,
        "client_id": world.integration.client_id,
        "client_secret": world.secret,
        "assertion": assertion({"owner": {"type": "User", "id": world.admin.public_id}}),
        **change(world),
    }
    response = token(**{k: v for k, v in body.items() if v is not None})
    assert response.status_code == status, response.json
    assert response.json["errors"][0]["title"] == error
    assert issued() == 0


def test_provisioning_credentials_cannot_use_it(world, token):
    application, secret = factories.make_application(None, "user", user=world.admin)
    value = assertion({"owner": {"type": "User", "id": world.admin.public_id}})
    response = exchange(token, application, secret, value)
    assert response.status_code == 401 and response.json["errors"][0]["title"] == "unauthorized_client"


def test_customer_owner_and_private_market(world, token):
    claims = {"owner": {"type": "Customer", "id": world.shopper.public_id}}
    response = exchange(token, world.sso, world.sso_secret, assertion(claims), scope="market:code:vip")
    assert response.status_code == 400 and response.json["errors"][0]["title"] == "invalid_grant"
