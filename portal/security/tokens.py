"""Access tokens: issuing Commerce Layer-shaped JWTs backed by a server-side row, and verifying both.

A token is valid only while its signature, expiry *and* row agree: revoked tokens, revoked applications,
disabled users and anonymized customers are refused even though the JWT itself would still verify.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import bindparam, select

from portal import db
from portal.models import Application, Customer, Market, OAuthToken, Organization, User
from portal.models.staff import ApplicationKind, Role
from portal.security import signing_keys
from portal.security.passwords import token_digest

DEFAULT_LIFETIMES = {
    ApplicationKind.SALES_CHANNEL: "SALES_CHANNEL_TOKEN_LIFETIME",
    ApplicationKind.INTEGRATION: "INTEGRATION_TOKEN_LIFETIME",
    ApplicationKind.USER: "USER_TOKEN_LIFETIME",
    ApplicationKind.WEBAPP: "INTEGRATION_TOKEN_LIFETIME",
}


class TokenError(Exception):
    """The bearer token is missing, malformed, expired or no longer valid (→ 401)."""


@dataclass
class TokenContext:
    """Who is calling, as the access token and its row say: the columns every request reads come with the row
    check; the organization's entity (which services write through) is loaded on first use."""

    kind: ApplicationKind
    application_role: Role | None
    application_id: str | None  # the application's public id (None: the webhooks' unsaved view)
    client_id: str | None
    owner_type: str | None  # "customer", "user" or None (a guest)
    organization_id: int | None
    organization_public_id: str | None
    customer: Customer | None = None
    user: User | None = None
    markets: list[Market] = field(default_factory=list)
    custom_claim: dict[str, Any] | None = None
    _organization: Organization | None = field(default=None, repr=False)

    @classmethod
    def admin_view(cls, org: Organization) -> TokenContext:
        """The org's own admin integration view (webhook bodies): every rule applied to a token applies to it."""
        return cls(
            kind=ApplicationKind.INTEGRATION,
            application_role=Role.ADMIN,
            application_id=None,
            client_id=None,
            owner_type=None,
            organization_id=org.id,
            organization_public_id=org.public_id,
            _organization=org,
        )

    @property
    def organization(self) -> Organization | None:
        if self._organization is None and self.organization_id is not None:
            self._organization = db.session.get(Organization, self.organization_id)
        return self._organization

    @property
    def role(self) -> Role | None:
        """An integration's role; a webapp acts with its staff member's current role in the org."""
        if self.kind is ApplicationKind.WEBAPP:
            return self.user.role_in(self.organization) if self.user and self.organization else None
        return self.application_role

    @property
    def staff(self) -> bool:
        """An integration or webapp token: it sees the org's data as its staff do (the API's `integration` rules)."""
        return self.kind in (ApplicationKind.INTEGRATION, ApplicationKind.WEBAPP)

    @property
    def access_type(self) -> str:
        """The token type the API's permission tables are written for: a webapp's is its integration twin's."""
        return f"integration:{self.owner_type or 'guest'}" if self.staff else self.token_type

    @property
    def token_type(self) -> str:
        """js-auth's classification: `sales_channel:guest`, `sales_channel:customer`, `integration:user`, ..."""
        return f"{self.kind.value}:{self.owner_type or 'guest'}"


def issuer() -> str:
    return f"https://auth.{current_app.config['DOMAIN']}"


def lifetime(application: Application) -> int:
    return application.access_token_lifetime or int(current_app.config[DEFAULT_LIFETIMES[application.kind]])


def _payload(
    application: Application,
    owner: Customer | User | None,
    scope: str,
    markets: list[Market],
    custom_claim: dict[str, Any] | None,
    jti: str,
    issued: int,
    expires: int,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "application": {
            "id": application.public_id,
            "client_id": application.client_id,
            "kind": application.kind.value,
            "public": not application.confidential,
            "confidential": application.confidential,
        },
        "scope": scope,
        "exp": expires,
        "iat": issued,
        "iss": issuer(),
        "jti": jti,
        "rand": secrets.randbelow(10**9) / 10**9,
    }
    if application.kind is ApplicationKind.USER:
        payload["user"] = {"id": application.user.public_id}
        payload["test"] = False
        return payload
    org = application.organization
    payload["organization"] = {
        "id": org.public_id,
        "slug": org.slug,
        "enterprise": True,
        "region": "eu-west-1",
    }
    payload["test"] = True
    if owner is not None:
        payload["owner"] = {
            "type": "Customer" if isinstance(owner, Customer) else "User",
            "id": owner.public_id,
        }
    if markets:
        payload["market"] = {
            "id": [m.public_id for m in markets],
            "stock_location_ids": [],
            "geocoder_id": None,
            "allows_external_prices": False,
        }
    if custom_claim is not None:
        payload["custom_claim"] = custom_claim
    return payload


def issue(
    application: Application,
    *,
    owner: Customer | User | None = None,
    scope: str = "",
    markets: list[Market] | None = None,
    custom_claim: dict[str, Any] | None = None,
    refresh: bool = False,
    family_id: str | None = None,
) -> dict[str, Any]:
    """Issue an access token (and a refresh token when asked) and return Commerce Layer's token response."""
    markets = markets or []
    now = db.utcnow()
    seconds = lifetime(application)
    jti = secrets.token_urlsafe(24)
    issued, expires = int(now.timestamp()), int(now.timestamp()) + seconds
    access = jwt.encode(
        {"alg": signing_keys.ALGORITHM, "typ": "JWT", "kid": signing_keys.signing_key().kid},
        _payload(application, owner, scope, markets, custom_claim, jti, issued, expires),
        signing_keys.signing_key(),
        algorithms=[signing_keys.ALGORITHM],
    )
    refresh_token = secrets.token_urlsafe(32) if refresh else None
    row = OAuthToken(
        jti=jti,
        application_id=application.id,
        organization_id=application.organization_id,
        owner_type=("customer" if isinstance(owner, Customer) else "user") if owner is not None else None,
        owner_id=owner.id if owner is not None else None,
        scope=scope,
        market_ids=[m.public_id for m in markets],
        custom_claim=custom_claim,
        issued_at=now,
        expires_at=now + timedelta(seconds=seconds),
        refresh_token_hash=token_digest(refresh_token) if refresh_token else None,
        refresh_expires_at=now + timedelta(seconds=current_app.config["REFRESH_TOKEN_LIFETIME"])
        if refresh
        else None,
        family_id=family_id or secrets.token_urlsafe(16),
    )
    db.session.add(row)
    db.session.flush()
    response: dict[str, Any] = {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": seconds,
        "scope": scope,
        "created_at": issued,
    }
    if owner is not None:
        response["owner_id"] = owner.public_id
        response["owner_type"] = "customer" if isinstance(owner, Customer) else "user"
    if refresh_token:
        response["refresh_token"] = refresh_token
    return response


@functools.cache
def _token_row() -> Any:
    """The row check runs on every request (revocation is immediate): one query brings the columns of the token, its
    application and organization that a request reads. Built once, and on the tables rather than the entities: the
    ORM's three entities cost four times the query itself."""
    token, application, org = OAuthToken.__table__.c, Application.__table__.c, Organization.__table__.c
    return (
        select(
            token.revoked_at,
            token.expires_at,
            token.owner_type,
            token.owner_id,
            token.market_ids,
            token.custom_claim,
            application.revoked_at.label("application_revoked_at"),
            application.public_id.label("application_id"),
            application.client_id,
            application.kind,
            application.role,
            application.user_id,
            application.organization_id,
            org.public_id.label("organization_public_id"),
        )
        .join_from(OAuthToken.__table__, Application.__table__, application.id == token.application_id)
        .outerjoin(Organization.__table__, org.id == application.organization_id)
        .where(token.jti == bindparam("jti"))
    )


def verify(raw: str) -> TokenContext:
    """Check signature (RS512 only), expiry and the server-side row; return who is calling."""
    try:
        claims = signing_keys.verified_claims(raw)
        jwt.JWTClaimsRegistry(exp={"essential": True}, jti={"essential": True}).validate(claims)
    except (JoseError, ValueError, TypeError) as error:
        raise TokenError("The access token is invalid or expired") from error
    row = db.session.execute(_token_row(), {"jti": claims["jti"]}).first()
    if row is None or row.revoked_at is not None or row.expires_at <= db.utcnow():
        raise TokenError("The access token is invalid or expired")
    if row.application_revoked_at is not None:
        raise TokenError("The application's credentials were revoked")
    context = TokenContext(
        kind=row.kind,
        application_role=row.role,
        application_id=row.application_id,
        client_id=row.client_id,
        owner_type=row.owner_type,
        organization_id=row.organization_id,
        organization_public_id=row.organization_public_id,
        custom_claim=row.custom_claim,
    )
    if row.kind is ApplicationKind.USER:
        context.user = db.session.get(User, row.user_id)
        if context.user is None or not context.user.is_active:
            raise TokenError("The user is disabled")
    elif row.owner_type == "customer":
        context.customer = db.session.get(Customer, row.owner_id)
        if context.customer is None or not context.customer.is_active:
            raise TokenError("The customer no longer exists or was anonymized")
    elif row.owner_type == "user":
        context.user = db.session.get(User, row.owner_id)
        if (
            context.user is None
            or not context.user.is_active
            or context.user.role_in(context.organization) is None
        ):
            raise TokenError("The user is disabled or no longer a member of this organization")
    if row.market_ids:
        context.markets = list(db.session.scalars(select(Market).where(Market.public_id.in_(row.market_ids))))
    return context


def revoke_family(family_id: str) -> None:
    db.session.execute(
        OAuthToken.__table__.update()
        .where(OAuthToken.family_id == family_id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=db.utcnow())
    )


def revoke(application: Application, raw: str) -> None:
    """RFC 7009: revoke the grant of an access token (signature checked, expiry not) or of a refresh token.

    Either revokes the whole family, so a logout also ends the refresh token. Tokens of other clients, and
    unknown tokens, are ignored: the caller answers 200 either way.
    """
    row = None
    if raw.count(".") == 2:
        try:
            jti = signing_keys.verified_claims(raw).get("jti")
        except (JoseError, ValueError, TypeError):
            jti = None
        if isinstance(jti, str):
            row = db.session.scalar(select(OAuthToken).where(OAuthToken.jti == jti))
    else:
        row = db.session.scalar(select(OAuthToken).where(OAuthToken.refresh_token_hash == token_digest(raw)))
    if row is not None and row.application_id == application.id:
        revoke_family(row.family_id)
