"""JWT-bearer assertions (RFC 7523 as Commerce Layer runs it): who the token will be issued to.

Commerce Layer authenticates the *client* (id + secret) and only integrity-checks the assertion: its own
`createAssertion` signs with HS512 and the literal key "cl". The default mode does the same, refusing `alg: none`
and checking structure, `iat` age, `exp` and replay (by `jti`, or by a digest of an assertion without one). An
application in strict mode must sign assertions with a key registered on it (its JWK set) using an allow-listed
algorithm; nothing in the header (`jku`, `x5u`, `jwk`) is ever fetched or trusted. Every refusal is the same
`invalid_assertion`; the reason is logged.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.models import Application, Customer, User
from portal.models.auth import UsedAssertion
from portal.models.staff import ApplicationKind
from portal.oauth.errors import InvalidAssertionError

CLAIMS = "https://commercelayer.io/claims"
MAX_BYTES = 4096
MAX_AGE = 3600
NO_JTI_MAX_AGE = 300
LEEWAY = 60
OWNER_KINDS = {"User": ApplicationKind.INTEGRATION, "Customer": ApplicationKind.SALES_CHANNEL}


@dataclass
class Assertion:
    owner: Customer | User | None
    custom_claim: dict[str, Any] | None


def _refuse(reason: str) -> InvalidAssertionError:
    current_app.logger.info("jwt-bearer assertion refused: %s", reason)
    return InvalidAssertionError()


def _decode(application: Application, raw: str) -> dict[str, Any]:
    """The claims: signature-checked in strict mode, structure-checked only by default."""
    if application.jwt_strict:
        algorithms = [a for a in application.jwt_algorithms or [] if a.lower() != "none"]
        if not algorithms or not application.jwt_keys:
            raise _refuse("strict mode without keys or algorithms")
        decoded = jwt.decode(raw, KeySet.import_key_set(application.jwt_keys), algorithms=algorithms)
        return decoded.claims
    compact = jws.extract_compact(raw.encode())
    alg = compact.headers().get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise _refuse("unsigned assertion")
    return json.loads(compact.payload)


def _claims(application: Application, raw: str) -> dict[str, Any]:
    if len(raw.encode()) > MAX_BYTES:
        raise _refuse("larger than 4 KB")
    try:
        claims = _decode(application, raw)
        if not isinstance(claims, dict):
            raise _refuse("claims are not an object")
        jwt.JWTClaimsRegistry(leeway=LEEWAY, iat={"essential": True}).validate(claims)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise _refuse(f"{type(error).__name__}: {error}") from None
    if claims["iat"] < time.time() - MAX_AGE:
        raise _refuse("issued more than an hour ago")
    return claims


def _owner(application: Application, owner: Any) -> Customer | User | None:
    if owner is None:
        return None
    if (
        not isinstance(owner, dict)
        or not isinstance(owner.get("id"), str)
        or owner.get("type") not in OWNER_KINDS
    ):
        raise _refuse("owner is not {type: User|Customer, id}")
    if application.kind is not OWNER_KINDS[owner["type"]]:
        raise _refuse(f"a {owner['type']} owner needs a {OWNER_KINDS[owner['type']].value} client")
    org = application.organization
    if owner["type"] == "User":
        user = db.session.scalar(select(User).where(User.public_id == owner["id"]))
        if user is None or not user.is_active or user.role_in(org) is None:
            raise _refuse("unknown or disabled user, or not a member of the client's organization")
        return user
    customer = db.session.scalar(
        select(Customer).where(Customer.organization_id == org.id, Customer.public_id == owner["id"])
    )
    if customer is None or not customer.is_active:
        raise _refuse("unknown or anonymized customer in the client's organization")
    return customer


def _replay_key(claims: dict[str, Any], raw: str) -> tuple[str, int]:
    """What identifies this assertion for replay refusal, and for how long after `iat` it is accepted.

    With a `jti`, the jti, for an hour. Without one (Commerce Layer's `createAssertion` sets none), a digest of the
    whole assertion, and only for NO_JTI_MAX_AGE: so no assertion is ever exchanged twice, and one captured
    without a jti is worth five minutes at most.
    """
    jti = claims.get("jti")
    if jti is None:
        if claims["iat"] < time.time() - NO_JTI_MAX_AGE:
            raise _refuse("an assertion without jti issued more than five minutes ago")
        return "sha256:" + hashlib.sha256(raw.encode()).hexdigest(), NO_JTI_MAX_AGE
    if not isinstance(jti, str) or not 0 < len(jti) <= 255:
        raise _refuse("jti is not a short string")
    return jti, MAX_AGE


def _remember(application: Application, claims: dict[str, Any], raw: str) -> None:
    """Refuse a replayed assertion; remember it until it is too old to be accepted anyway."""
    jti, max_age = _replay_key(claims, raw)
    now = db.utcnow()
    db.session.execute(
        delete(UsedAssertion).where(
            UsedAssertion.application_id == application.id, UsedAssertion.expires_at < now
        )
    )
    seen = exists().where(UsedAssertion.application_id == application.id, UsedAssertion.jti == jti)
    if db.session.scalar(select(seen)):
        raise _refuse("replayed jti")
    expires = datetime.fromtimestamp(claims["iat"] + max_age + LEEWAY, UTC)
    try:
        with db.session.begin_nested():
            db.session.add(UsedAssertion(application_id=application.id, jti=jti, expires_at=expires))
    except IntegrityError:  # the same jti, exchanged concurrently
        raise _refuse("replayed jti") from None


def read(application: Application, raw: str) -> Assertion:
    """Check an assertion for this client and return the owner and custom claim the token will carry."""
    claims = _claims(application, raw)
    block = claims.get(CLAIMS)
    if not isinstance(block, dict) or not block:
        raise _refuse(f"missing or empty {CLAIMS}")
    custom_claim = block.get("custom_claim")
    if block.get("owner") is None and custom_claim is None:
        raise _refuse("neither owner nor custom_claim")
    if custom_claim is not None and not isinstance(custom_claim, dict):
        raise _refuse("custom_claim is not an object")
    owner = _owner(application, block.get("owner"))
    _remember(application, claims, raw)
    return Assertion(owner=owner, custom_claim=custom_claim)
