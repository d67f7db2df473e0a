"""Organizations, markets, staff users, memberships and API credentials."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import current_app
from sqlalchemy import exists, func, select

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import Application, Market, Membership, Organization, User, column_length
from portal.models.staff import ApplicationKind, Role
from portal.security import passwords
from portal.services import validation
from portal.services.audit import Actor, record

# First URL segments the shopper area cannot use as an organization slug.
RESERVED_SLUGS = frozenset(
    {
        "api",
        "admin",
        "oauth",
        "static",
        "provisioning",
        "well-known",
        ".well-known",
        "health",
        "ready",
        "metrics",
        "login",
        "logout",
        "account",
        "embed",
        "assets",
        "favicon.ico",
        "robots.txt",
        "storefront",
    }
)
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def get_org(slug: str) -> Organization:
    org = db.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound("The requested resource was not found", field="organization")
    return org


def find_org_by_name(name: str) -> Organization | None:
    """The one organization whose display name is `name` (any case), or None when none or several carry it: a
    shopper types the name their store shows ("Demo Store"), not its URL slug."""
    query = select(Organization).where(func.lower(Organization.name) == name.strip().lower()).limit(2)
    found = db.session.scalars(query).all()
    return found[0] if len(found) == 1 else None


def create_org(actor: Actor, *, slug: str, name: str) -> Organization:
    """Create a tenant. The slug is its URL segment: lower-case letters, digits, hyphens; not a reserved word."""
    slug = validation.text(slug, "slug", max_length=column_length(Organization.slug), required=True) or ""
    if not _SLUG_RE.match(slug):
        raise Invalid(
            "may contain only lower-case letters, digits and inner hyphens", field="slug", code="invalid"
        )
    if slug in RESERVED_SLUGS:
        raise Invalid("is reserved", field="slug", code="exclusion")
    if db.session.scalar(select(exists().where(Organization.slug == slug))):
        raise Invalid("has already been taken", field="slug", code="taken")
    org = Organization(slug=slug, name=validation.text(name, "name", required=True))
    db.session.add(org)
    db.session.flush()
    record(actor, org, "organization.create", org, ["slug", "name"])
    return org


def create_market(actor: Actor, org: Organization, *, name: str, code: str | None = None) -> Market:
    code = validation.code(code, "code", max_length=column_length(Market.code))
    if code and db.session.scalar(
        select(exists().where(Market.organization_id == org.id, Market.code == code))
    ):
        raise Invalid("has already been taken", field="code", code="taken")
    number = (
        db.session.scalar(select(func.max(Market.number)).where(Market.organization_id == org.id)) or 0
    ) + 1
    market = Market(
        organization_id=org.id, number=number, name=validation.text(name, "name", required=True), code=code
    )
    db.session.add(market)
    db.session.flush()
    record(actor, org, "market.create", market, ["name", "code"])
    return market


def password_grant_enabled(org: Organization) -> bool:
    """Whether the org's sales channels may use the OAuth2 password grant (on unless the org turned it off: Commerce
    Layer's storefronts need it; the authorization code flow is the recommended way, SECURITY.md)."""
    return (org.settings or {}).get("password_grant") is not False


def find_user(email: str) -> User | None:
    try:
        normalized = validation.email(email)
    except Invalid:
        return None
    return db.session.scalar(select(User).where(User.email == normalized))


def create_user(
    actor: Actor, *, email: str, password: str | None, first_name: str = "", last_name: str = ""
) -> User:
    """Create a staff user (an invitation may leave the password unset until accepted)."""
    normalized = validation.email(email)
    if db.session.scalar(select(exists().where(User.email == normalized))):
        raise Invalid("has already been taken", field="email", code="taken")
    user = User(
        email=normalized,
        first_name=validation.text(first_name, "first_name") or "",
        last_name=validation.text(last_name, "last_name") or "",
    )
    if password is not None:
        passwords.check_policy(password, context=(normalized, normalized.split("@")[0]))
        user.password_hash = passwords.hash_password(password)
    db.session.add(user)
    db.session.flush()
    record(actor, None, "user.create", user, ["email", "first_name", "last_name"])
    return user


def set_membership(actor: Actor, org: Organization, user: User, role: Role | str) -> Membership:
    """Give a user a role in an organization (or change it)."""
    try:
        role = Role(role)
    except ValueError:
        raise Invalid("must be admin or read_only", field="role", code="inclusion") from None
    membership = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.organization_id == org.id)
    )
    if membership is None:
        membership = Membership(user=user, organization_id=org.id, role=role)
        db.session.add(membership)
    membership.role = role
    db.session.flush()
    record(actor, org, "membership.set", user, ["role"], role=role.value)
    return membership


def _redirect_uris(kind: ApplicationKind, redirect_uris: list[str] | str | None) -> list[str]:
    """The checked list: only sales channels and webapps have redirect URIs, and a webapp needs one."""
    uris = validation.redirect_uris(
        redirect_uris or [], development=current_app.config["ENV_MODE"] != "production"
    )
    if kind is ApplicationKind.WEBAPP and not uris:
        raise Invalid("can't be blank", field="redirect_uri", code="blank")
    if uris and kind not in (ApplicationKind.SALES_CHANNEL, ApplicationKind.WEBAPP):
        raise Invalid(
            "only sales channels and webapps have redirect URIs", field="redirect_uri", code="invalid"
        )
    return uris


def set_redirect_uris(actor: Actor, application: Application, redirect_uris: list[str] | str | None) -> None:
    """Replace an application's redirect URIs: fixing a typo needs no new client id. Codes already issued stay bound
    to their URI (they live 60 seconds)."""
    application.redirect_uri = "\n".join(_redirect_uris(application.kind, redirect_uris)) or None
    db.session.flush()
    record(actor, application.organization, "application.update", application, ["redirect_uri"])


def create_application(
    actor: Actor,
    org: Organization | None,
    *,
    name: str,
    kind: ApplicationKind | str,
    role: Role | str | None = None,
    user: User | None = None,
    redirect_uris: list[str] | str | None = None,
) -> tuple[Application, str | None]:
    """Create API credentials. Returns the application and its secret, which is shown once and stored hashed.

    Sales channels and webapps may register redirect URIs (the authorization code grant); a webapp needs one.
    """
    try:
        kind = ApplicationKind(kind)
    except ValueError:
        raise Invalid(
            "must be sales_channel, integration or webapp", field="kind", code="inclusion"
        ) from None
    uris = _redirect_uris(kind, redirect_uris)
    if kind is ApplicationKind.USER:
        if user is None:
            raise Invalid("can't be blank", field="user", code="blank")
        org = None
    elif org is None:
        raise Invalid("can't be blank", field="organization", code="blank")
    if kind is ApplicationKind.INTEGRATION:
        try:
            role = Role(role or Role.ADMIN)
        except ValueError:
            raise Invalid("must be admin or read_only", field="role", code="inclusion") from None
    else:
        role = None
    secret = None if kind is ApplicationKind.SALES_CHANNEL else secrets.token_urlsafe(32)
    application = Application(
        organization_id=org.id if org else None,
        user_id=user.id if user else None,
        name=validation.text(name, "name", required=True),
        kind=kind,
        role=role,
        client_id=secrets.token_urlsafe(24),
        secret_hash=passwords.token_digest(secret) if secret else None,
        redirect_uri="\n".join(uris) or None,
    )
    db.session.add(application)
    db.session.flush()
    record(actor, org, "application.create", application, ["name", "kind", "role", "redirect_uri"])
    return application, secret


def rotate_secret(actor: Actor, application: Application) -> str:
    """A new secret; the old one stops working at once. A sales channel stays a public client for its other
    grants: its secret only serves the JWT bearer flow (customer logins delegated by the storefront's backend)."""
    secret = secrets.token_urlsafe(32)
    application.secret_hash = passwords.token_digest(secret)
    db.session.flush()
    record(actor, application.organization, "application.rotate_secret", application, ["client_secret"])
    return secret


def check_secret(application: Application, secret: Any) -> bool:
    if not application.secret_hash or not isinstance(secret, str):
        return False
    return secrets.compare_digest(application.secret_hash, passwords.token_digest(secret))
