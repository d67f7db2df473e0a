"""The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636), on authlib's authorization server.

authlib validates the authorization request (client, exact redirect URI, response type, no repeated parameters,
the PKCE challenge) and the token request (code bound to client and redirect URI, the verifier), builds the
redirect back with `code` and `state`, and names every error. The hooks below supply our parts: clients are
`Application`s (sales channels: public, PKCE S256 required; webapps: confidential), the client is authenticated by
the token endpoint's one rule (`clients.authenticate`), codes live in `services/consents.py`, scopes are Commerce
Layer's markets, and the token is Commerce Layer's (`security/tokens.issue`, with a rotating refresh token).

A code is single use, lives 60 seconds, and a second exchange revokes every token the first one issued
(RFC 6749 §4.1.2). `state` is passed back untouched: checking it is the client's job.
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import request

from portal import db
from portal.models import Application, AuthorizationCode, Customer, User
from portal.models.staff import ApplicationKind
from portal.oauth import clients
from portal.oauth.errors import (
    FamilyRevoked,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    UnauthorizedClientError,
)
from portal.security import tokens
from portal.services import consents

CODE_KINDS = (ApplicationKind.SALES_CHANNEL, ApplicationKind.WEBAPP)
REUSED = "The authorization code was already used: every token issued for it is revoked"


class Client(ClientMixin):
    """An application as authlib sees it. Only sales channels and webapps take part in this grant."""

    def __init__(self, application: Application) -> None:
        self.application = application

    def get_client_id(self) -> str:
        return self.application.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # redirect_uri is required: no guessing among several registered URIs

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ""  # markets are resolved (and refused) by clients.resolve_scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.application.redirect_uris  # exact match, RFC 9700 §4.1.3

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"

    @property
    def public(self) -> bool:
        return not self.application.confidential


class Code(AuthorizationCodeMixin):
    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope


class S256Challenge(CodeChallenge):
    """PKCE: S256 only (never `plain`), and required of public clients (sales channels) at the authorization step."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's class attribute

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if grant.request.client.public and not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_post"]  # noqa: RUF012 - authlib's class attribute

    def validate_authorization_request(self) -> str:
        """authlib's checks, then the scope: markets of the client's org (private ones are checked per person)."""
        redirect_uri = super().validate_authorization_request()
        try:
            self.request.scope, self.request.markets = clients.resolve_scope(
                self.request.client.application, self.request.payload.scope
            )
        except OAuth2Error as error:
            error.redirect_uri, error.state = redirect_uri, self.request.payload.state
            raise
        return redirect_uri

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        consents.save_code(
            code,
            request.client.application,
            request.user,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def authenticate_token_endpoint_client(self) -> Client:
        """The token endpoint's one client rule: public sales channels by id, webapps with their secret."""
        application = clients.authenticate(self.request.payload.data)
        if application.kind not in CODE_KINDS:
            raise UnauthorizedClientError(
                description="The authorization code grant is for sales channels and webapps"
            )
        self.request.auth_method = "client_secret_post" if application.confidential else "none"
        return Client(application)

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        """The code, if it is this client's and unexpired. A used one revokes what its first exchange issued."""
        row = consents.find_code(code)
        if row is None or row.application_id != client.application.id:
            return None
        if row.used_at is not None:
            if row.family_id:
                tokens.revoke_family(row.family_id)
            raise FamilyRevoked(description=REUSED)
        if row.expires_at <= db.utcnow():
            return None
        return Code(row)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Never deleted: claimed by `create_token_response`, so that reuse can be recognised and answered."""

    def authenticate_user(self, authorization_code: Code) -> Customer | User | None:
        return consents.code_owner(authorization_code.row)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Commerce Layer's token response for the code's owner, with a rotating refresh token."""
        application = self.request.client.application
        row = self.request.authorization_code.row
        owner = _still_allowed(application, consents.code_owner(row))
        _scope, markets = clients.resolve_scope(application, row.scope or None)
        clients.check_market_access(application, markets, owner if isinstance(owner, Customer) else None)
        family_id = secrets.token_urlsafe(16)
        if not consents.claim_code(row, family_id):  # a concurrent exchange claimed it first: reuse
            tokens.revoke_family(row.family_id or family_id)
            raise FamilyRevoked(description=REUSED)
        body = tokens.issue(
            application, owner=owner, scope=row.scope, markets=markets, refresh=True, family_id=family_id
        )
        return 200, body, self.TOKEN_RESPONSE_HEADER


def _still_allowed(application: Application, owner: Customer | User | None) -> Customer | User:
    """The code's owner may still get a token: an active customer of the org, or an active staff member of it."""
    if (
        isinstance(owner, Customer)
        and owner.is_active
        and owner.organization_id == application.organization_id
    ):
        return owner
    if isinstance(owner, User) and owner.is_active and owner.role_in(application.organization) is not None:
        return owner
    raise InvalidGrantError(description="The person who authorized this code can no longer sign in")


def query_client(client_id: str | None) -> Client | None:
    application = clients.find(client_id)
    if application is None or application.revoked_at is not None or application.kind not in CODE_KINDS:
        return None
    if application.organization is None:
        return None
    return Client(application)


server = AuthorizationServer(query_client=query_client, save_token=lambda token, request: None)
server.register_grant(CodeGrant, [S256Challenge(required=True)])


class _TokenRequest(OAuth2Request):
    """The token endpoint's parameters as already read (form or JSON, Basic credentials merged)."""

    def __init__(self, params: dict[str, str]) -> None:
        super().__init__("POST", request.url, headers=request.headers)
        self.payload = BasicOAuth2Payload(params)

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


def exchange_code(params: dict[str, str], ip: str | None) -> dict[str, Any]:
    """`grant_type=authorization_code` at /oauth/token: authlib's checks, our token."""
    grant = server.get_token_grant(_TokenRequest(params))
    grant.validate_token_request()
    _status, body, _headers = grant.create_token_response()
    return body
