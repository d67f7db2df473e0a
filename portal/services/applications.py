"""An organization's API credentials as staff manage them: the list, revocation (with every token issued), and a
user's own provisioning credentials (created on first use, rotated afterwards; the secret is shown once).

Plain functions with an explicit actor and org; they flush, never commit, and write audit events.
"""

from __future__ import annotations

from sqlalchemy import select

from portal import db
from portal.errors import NotFound
from portal.models import Application, OAuthToken, Organization, User
from portal.models.staff import ApplicationKind
from portal.services import orgs
from portal.services.audit import Actor, record


def active(org: Organization) -> list[Application]:
    """The org's credentials that still work, newest first."""
    return list(
        db.session.scalars(
            select(Application)
            .where(Application.organization_id == org.id, Application.revoked_at.is_(None))
            .order_by(Application.created_at.desc(), Application.id.desc())
        )
    )


def get_application(org: Organization, public_id: str) -> Application:
    application = db.session.scalar(
        select(Application).where(Application.organization_id == org.id, Application.public_id == public_id)
    )
    if application is None:
        raise NotFound("The requested resource was not found", field="id")
    return application


def revoke_application(actor: Actor, org: Organization, application: Application) -> None:
    """Revoke credentials: the application and every token it issued stop working."""
    if application.revoked_at is not None:
        return
    now = db.utcnow()
    application.revoked_at = now
    db.session.execute(
        OAuthToken.__table__.update()
        .where(OAuthToken.application_id == application.id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.flush()
    record(actor, org, "application.revoke", application, ["revoked_at"])


def user_credentials(user: User) -> Application | None:
    return db.session.scalar(
        select(Application).where(
            Application.user_id == user.id,
            Application.kind == ApplicationKind.USER,
            Application.revoked_at.is_(None),
        )
    )


def issue_user_credentials(actor: Actor, user: User) -> tuple[Application, str]:
    """The user's own provisioning credentials: created on first use, rotated afterwards; the secret is shown once."""
    application = user_credentials(user)
    if application is None:
        application, secret = orgs.create_application(
            actor, None, name=f"Provisioning for {user.email}", kind=ApplicationKind.USER, user=user
        )
        return application, secret or ""
    return application, orgs.rotate_secret(actor, application)
