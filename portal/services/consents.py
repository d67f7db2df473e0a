"""Consents and codes of the authorization code grant: what a shopper or staff member allowed an application, and
the single-use codes `/oauth/authorize` hands back.

A consent is asked the first time an application asks a person and remembered per person and application; staff
list and revoke them (revoking also revokes every token the application holds for that person). A code lives 60
seconds, is stored hashed, and its exchange is claimed by one UPDATE so a concurrent second exchange fails like a
late one: as reuse, which revokes what the first exchange issued (RFC 6749 §4.1.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from portal import db
from portal.errors import NotFound
from portal.models import (
    Application,
    AuthorizationCode,
    Customer,
    OAuthConsent,
    OAuthToken,
    Organization,
    User,
)
from portal.security.passwords import token_digest
from portal.services.audit import Actor, record

CODE_LIFETIME = timedelta(seconds=60)


def owner_key(owner: Customer | User) -> tuple[str, int]:
    return ("customer" if isinstance(owner, Customer) else "user"), owner.id


def _consent(application: Application, owner: Customer | User) -> OAuthConsent | None:
    owner_type, owner_id = owner_key(owner)
    return db.session.scalar(
        select(OAuthConsent).where(
            OAuthConsent.application_id == application.id,
            OAuthConsent.owner_type == owner_type,
            OAuthConsent.owner_id == owner_id,
        )
    )


def has_consent(application: Application, owner: Customer | User) -> bool:
    consent = _consent(application, owner)
    return consent is not None and consent.revoked_at is None


def give_consent(actor: Actor, application: Application, owner: Customer | User, scope: str) -> OAuthConsent:
    """Remember that `owner` lets `application` act for them (asked once; given again after a revocation)."""
    consent = _consent(application, owner)
    owner_type, owner_id = owner_key(owner)
    if consent is None:
        consent = OAuthConsent(
            application_id=application.id,
            organization_id=application.organization_id,
            owner_type=owner_type,
            owner_id=owner_id,
        )
        db.session.add(consent)
    consent.scope, consent.granted_at, consent.revoked_at = scope, db.utcnow(), None
    db.session.flush()
    record(
        actor,
        application.organization,
        "consent.give",
        consent,
        ["granted_at"],
        application=application.public_id,
    )
    return consent


@dataclass
class Grant:
    """One active consent as staff see it: the application and who it acts for."""

    consent: OAuthConsent
    application: Application
    owner_email: str


def active_grants(org: Organization) -> list[Grant]:
    """The org's consents still in force, newest first (at most 200: a settings page, not a report)."""
    rows = db.session.scalars(
        select(OAuthConsent)
        .join(Application, OAuthConsent.application_id == Application.id)
        .where(
            OAuthConsent.organization_id == org.id,
            OAuthConsent.revoked_at.is_(None),
            Application.revoked_at.is_(None),
        )
        .order_by(OAuthConsent.granted_at.desc(), OAuthConsent.id.desc())
        .limit(200)
    )
    grants = []
    for consent in rows:
        model = Customer if consent.owner_type == "customer" else User
        owner = db.session.get(model, consent.owner_id)
        grants.append(Grant(consent, consent.application, owner.email if owner is not None else "—"))
    return grants


def revoke_grant(actor: Actor, org: Organization, consent_id: str) -> OAuthConsent:
    """Withdraw a consent: the application must ask again, and every token it holds for that person stops working."""
    consent = db.session.scalar(
        select(OAuthConsent).where(
            OAuthConsent.organization_id == org.id, OAuthConsent.public_id == consent_id
        )
    )
    if consent is None:
        raise NotFound("The requested resource was not found", field="id")
    now = db.utcnow()
    consent.revoked_at = consent.revoked_at or now
    db.session.execute(
        update(OAuthToken)
        .where(
            OAuthToken.application_id == consent.application_id,
            OAuthToken.owner_type == consent.owner_type,
            OAuthToken.owner_id == consent.owner_id,
            OAuthToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    record(actor, org, "consent.revoke", consent, ["revoked_at"], application=consent.application.public_id)
    return consent


def save_code(
    raw: str,
    application: Application,
    owner: Customer | User,
    *,
    redirect_uri: str,
    scope: str,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> None:
    """Store a new authorization code (hashed) for `owner`, bound to the client, redirect URI and PKCE challenge.
    Expired codes never exchanged are swept on the way (each visit of a consenting person stores one); used codes
    stay, so that a late replay is still recognised and revokes what the first exchange issued."""
    owner_type, owner_id = owner_key(owner)
    now = db.utcnow()
    db.session.execute(
        delete(AuthorizationCode).where(
            AuthorizationCode.used_at.is_(None), AuthorizationCode.expires_at < now
        )
    )
    db.session.add(
        AuthorizationCode(
            code_hash=token_digest(raw),
            application_id=application.id,
            organization_id=application.organization_id,
            owner_type=owner_type,
            owner_id=owner_id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    db.session.flush()


def find_code(raw: str) -> AuthorizationCode | None:
    return db.session.scalar(
        select(AuthorizationCode).where(AuthorizationCode.code_hash == token_digest(raw))
    )


def claim_code(code: AuthorizationCode, family_id: str) -> bool:
    """Mark the code used, naming the token family it is exchanged for; False when another exchange got there first."""
    claimed = db.session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=db.utcnow(), family_id=family_id)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


def code_owner(code: AuthorizationCode) -> Customer | User | None:
    return db.session.get(Customer if code.owner_type == "customer" else User, code.owner_id)
