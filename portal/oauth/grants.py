"""The token endpoint's grants. Each takes the request parameters and returns Commerce Layer's token response.

A compact dispatcher rather than authlib's AuthorizationServer: Commerce Layer's wire format (JSON bodies,
`{"errors":[...]}` with Doorkeeper statuses, `invalid_assertion`, owner fields in the response) and our rules
(shared lockout, refresh families, private markets) would each need an override of authlib's hooks.
authlib supplies the error vocabulary, joserfc all JOSE work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from portal import db
from portal.models import Application, Customer, Market, OAuthToken, User
from portal.models.staff import ApplicationKind
from portal.oauth import assertions, authorize
from portal.oauth.clients import (
    authenticate,
    check_market_access,
    required,
    resolve_scope,
)
from portal.oauth.errors import (
    FamilyRevoked,
    InvalidGrantError,
    InvalidScopeError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from portal.security import tokens
from portal.security.passwords import token_digest
from portal.services import accounts, groups, orgs

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def client_credentials(params: dict[str, str], ip: str | None) -> dict[str, Any]:
    """Sales channel → guest token; integration → `market:all` token; user credentials → provisioning token."""
    application = authenticate(params)
    if application.kind is ApplicationKind.WEBAPP:
        raise UnauthorizedClientError(
            description="A webapp acts for a staff member: use the authorization code flow"
        )
    scope, markets = resolve_scope(application, params.get("scope"))
    if application.kind is ApplicationKind.USER and not application.user.is_active:
        raise InvalidGrantError(description="The user owning these credentials is disabled")
    check_market_access(application, markets, None)
    return tokens.issue(application, scope=scope, markets=markets)


def password(params: dict[str, str], ip: str | None) -> dict[str, Any]:
    """A customer's email and password through a sales channel, behind the web login's lockout."""
    application = authenticate(params)
    if application.kind is not ApplicationKind.SALES_CHANNEL:
        raise UnauthorizedClientError(description="The password grant is only for sales channels")
    if not orgs.password_grant_enabled(application.organization):
        raise UnauthorizedClientError(
            description="This organization has turned the password grant off: use the authorization code flow"
        )
    username, secret = required(params, "username"), required(params, "password")
    scope, markets = resolve_scope(application, params.get("scope"))
    customer = accounts.authenticate(application.organization, username, secret, ip)
    if customer is None:
        raise InvalidGrantError(description="Invalid email or password")
    check_market_access(application, markets, customer)
    return tokens.issue(application, owner=customer, scope=scope, markets=markets, refresh=True)


def _still_valid(row: OAuthToken, application: Application) -> tuple[Customer | User | None, list[Market]]:
    """The refreshed token's owner and markets, if they still allow a token."""
    owner: Customer | User | None = None
    if row.owner_type == "customer":
        owner = db.session.get(Customer, row.owner_id)
        if owner is None or not owner.is_active or owner.organization_id != application.organization_id:
            raise InvalidGrantError(description="The customer no longer exists or was anonymized")
    elif row.owner_type == "user":
        owner = db.session.get(User, row.owner_id)
        if owner is None or not owner.is_active or owner.role_in(application.organization) is None:
            raise InvalidGrantError(description="The user is disabled or no longer a member")
    markets = []
    for public_id in row.market_ids:
        market = groups.find_market(application.organization, public_id=public_id)
        if market is None or market.disabled_at is not None:
            raise InvalidGrantError(description="A market of this token no longer exists")
        markets.append(market)
    check_market_access(application, markets, owner if isinstance(owner, Customer) else None)
    return owner, markets


def refresh_token(params: dict[str, str], ip: str | None) -> dict[str, Any]:
    """Rotate: a new access and refresh token; presenting a used refresh token again revokes the whole family."""
    application = authenticate(params)
    if application.kind is ApplicationKind.USER:
        raise UnauthorizedClientError(description="User credentials have no refresh tokens")
    digest = token_digest(required(params, "refresh_token"))
    row = db.session.scalar(select(OAuthToken).where(OAuthToken.refresh_token_hash == digest))
    if row is None or row.application_id != application.id:
        raise InvalidGrantError()
    if row.refreshed_at is not None:
        tokens.revoke_family(row.family_id)
        raise FamilyRevoked(
            description="The refresh token was already used: every token of its grant is revoked"
        )
    now = db.utcnow()
    if row.revoked_at is not None or row.refresh_expires_at is None or row.refresh_expires_at <= now:
        raise InvalidGrantError(description="The refresh token is expired or revoked")
    if params.get("scope", row.scope) != row.scope:
        raise InvalidScopeError(description="A refreshed token keeps its scope: send the original one")
    owner, markets = _still_valid(row, application)
    # Only one exchange can flip refreshed_at; a concurrent one finds it set and counts as reuse.
    claimed = db.session.execute(
        update(OAuthToken)
        .where(OAuthToken.id == row.id, OAuthToken.refreshed_at.is_(None), OAuthToken.revoked_at.is_(None))
        .values(refreshed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        tokens.revoke_family(row.family_id)
        raise FamilyRevoked(
            description="The refresh token was already used: every token of its grant is revoked"
        )
    return tokens.issue(
        application,
        owner=owner,
        scope=row.scope,
        markets=markets,
        custom_claim=row.custom_claim,
        refresh=True,
        family_id=row.family_id,
    )


def jwt_bearer(params: dict[str, str], ip: str | None) -> dict[str, Any]:
    """A token owned by the assertion's User (integration) or Customer (sales channel); the client needs its secret."""
    application = authenticate(params, require_secret=True)
    if application.kind in (ApplicationKind.USER, ApplicationKind.WEBAPP):
        raise UnauthorizedClientError(
            description="Only integrations and sales channels use the JWT bearer flow"
        )
    assertion = assertions.read(application, required(params, "assertion"))
    scope, markets = resolve_scope(application, params.get("scope"))
    customer = assertion.owner if isinstance(assertion.owner, Customer) else None
    check_market_access(application, markets, customer)
    return tokens.issue(
        application,
        owner=assertion.owner,
        scope=scope,
        markets=markets,
        custom_claim=assertion.custom_claim,
        refresh=True,
    )


GRANTS: dict[str, Callable[[dict[str, str], str | None], dict[str, Any]]] = {
    "authorization_code": authorize.exchange_code,
    "client_credentials": client_credentials,
    "password": password,
    "refresh_token": refresh_token,
    JWT_BEARER: jwt_bearer,
}


def exchange(params: dict[str, str], ip: str | None) -> dict[str, Any]:
    """Run the requested grant; raises an OAuth2Error for every refusal."""
    grant_type = required(params, "grant_type")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantTypeError(grant_type[:100])
    return grant(params, ip)
