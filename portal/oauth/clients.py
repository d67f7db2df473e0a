"""Reading a token request, authenticating its client, and resolving the requested scope to markets."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from flask import Request
from sqlalchemy import select

from portal import db
from portal.models import Application, Customer, Market
from portal.models.staff import ApplicationKind
from portal.oauth.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from portal.services import groups, orgs, validation

FIELDS = (
    "grant_type",
    "client_id",
    "client_secret",
    "username",
    "password",
    "refresh_token",
    "assertion",
    "scope",
    "token",
    "token_type_hint",
    "code",
    "redirect_uri",
    "code_verifier",
)
MAX_SCOPES = 10
PROVISIONING_SCOPE = "provisioning-api"


def raw_params(request: Request) -> dict[str, Any]:
    """The body as js-auth (JSON) or a classic OAuth client (form) sends it; anything else is empty."""
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form.to_dict()


def _basic_credentials(request: Request) -> dict[str, str]:
    """client_secret_basic (RFC 6749 §2.3.1), for classic OAuth clients: the id and secret in the header."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return {}
    return {"client_id": unquote_plus(auth.username), "client_secret": unquote_plus(auth.password or "")}


def read_params(request: Request) -> dict[str, str]:
    """The known parameters, each a string; empty strings count as absent."""
    if request.is_json and not isinstance(request.get_json(silent=True), dict):
        raise InvalidRequestError(description="The request body must be a JSON object")
    data = raw_params(request)
    params = {}
    for name in FIELDS:
        value = data.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise InvalidRequestError(description=f"{name} must be a string")
        if validation.has_control_characters(value):
            raise InvalidRequestError(description=f"{name} contains characters that are not allowed")
        params[name] = value
    basic = _basic_credentials(request)
    if basic and "client_id" in params and params["client_id"] != basic["client_id"]:
        raise InvalidRequestError(description="Two different client ids in one request")
    params.update({k: v for k, v in basic.items() if v})
    return params


def required(params: dict[str, str], name: str) -> str:
    if name not in params:
        raise InvalidRequestError(description=f"Missing required parameter: {name}")
    return params[name]


def find(client_id: str | None) -> Application | None:
    """The application registered under this exact client id, if any (no secret checked)."""
    if not client_id:
        return None
    return db.session.scalar(select(Application).where(Application.client_id == client_id))


def authenticate(params: dict[str, str], *, require_secret: bool = False) -> Application:
    """The client by client_id; confidential clients (and `require_secret`) need the right client_secret.

    A public sales channel authenticates with its id alone, but a secret it sends must still be right.
    """
    application = find(params.get("client_id"))
    if application is None or application.revoked_at is not None:
        raise InvalidClientError()
    needs_secret = application.confidential or require_secret or "client_secret" in params
    if needs_secret and not orgs.check_secret(application, params.get("client_secret")):
        raise InvalidClientError()
    if application.kind is not ApplicationKind.USER and application.organization is None:
        raise InvalidClientError()
    return application


def resolve_scope(application: Application, scope: str | None) -> tuple[str, list[Market]]:
    """`market:id:X` / `market:code:X` (space-separated) → the markets; no scope means `market:all`."""
    if application.kind is ApplicationKind.USER:
        if scope not in (None, PROVISIONING_SCOPE):
            raise InvalidScopeError(description=f"User credentials only have the {PROVISIONING_SCOPE} scope")
        return PROVISIONING_SCOPE, []
    parts = (scope or "market:all").split()
    if not parts or len(parts) > MAX_SCOPES:
        raise InvalidScopeError()
    markets: list[Market] = []
    for part in parts:
        if part == "market:all":
            continue
        resource, _, rest = part.partition(":")
        field, _, value = rest.partition(":")
        if resource != "market" or field not in ("id", "code") or not value:
            raise InvalidScopeError(description=f"Unsupported scope: {part[:80]}")
        lookup = {"code": value} if field == "code" else {"public_id": value}
        market = groups.find_market(application.organization, **lookup)
        if market is None or market.disabled_at is not None:
            raise InvalidScopeError(description=f"Unknown market in scope: {part[:80]}")
        if market not in markets:
            markets.append(market)
    return " ".join(parts), markets


def check_market_access(application: Application, markets: list[Market], customer: Customer | None) -> None:
    """A sales channel reaches a private market only with a customer of that market's group."""
    if application.kind is not ApplicationKind.SALES_CHANNEL:
        return
    for market in markets:
        if not groups.is_market_open_to(market, customer):
            name = market.code or market.public_id
            if customer is None:
                detail = f"The market {name} is private: log in a customer of its customer group to use it"
            else:
                detail = f"The market {name} is private and this customer is not in its customer group"
            raise InvalidGrantError(description=detail)
