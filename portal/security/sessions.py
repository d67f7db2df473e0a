"""Browser sessions for customers and users.

The signed cookie carries flask-login's rotating login id *and* a session id (`sid`) whose row in
`login_sessions` must be live: logging out, "sign out this session", password changes and anonymization revoke
rows, so a copied cookie stops working at once (ASVS 7.4.1), which a signed cookie alone cannot do.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app, request, session
from flask_login import login_user, logout_user
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal import db
from portal.models import Customer, LoginSession, User
from portal.models.orgs import Organization

# Idle and absolute lifetimes, by principal (security.md S7).
LIFETIMES = {
    "customer": (timedelta(minutes=30), timedelta(hours=12)),
    "user": (timedelta(minutes=15), timedelta(hours=8)),
}


PASSKEY_SESSION = "passkey"  # in the session: a staff member signed in with a passkey (both factors at once)


def two_factor(user: User) -> bool:
    """Whether this staff session passed two factors: the user has TOTP on (the login asked for a code), or signed
    in with a passkey (the authenticator is possession and, with user verification, the second factor). The admin
    area and the hosted sign-in for webapps ask the same question."""
    return user.totp_enabled_at is not None or session.get(PASSKEY_SESSION) is True


def principal_type(principal: Customer | User) -> str:
    return "customer" if isinstance(principal, Customer) else "user"


def start(principal: Customer | User, org: Organization | None) -> LoginSession:
    """Log a principal in: a fresh session (no fixation), a new `sid` row, flask-login's cookie."""
    session.clear()
    row = LoginSession(
        sid=secrets.token_urlsafe(32),
        principal_type=principal_type(principal),
        principal_id=principal.id,
        organization_id=org.id if org else None,
        ip_address=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:255],
    )
    db.session.add(row)
    db.session.flush()
    login_user(principal)
    session["sid"] = row.sid
    session.permanent = True
    return row


def current() -> LoginSession | None:
    sid = session.get("sid")
    if not sid:
        return None
    return db.session.scalar(select(LoginSession).where(LoginSession.sid == sid))


def end() -> None:
    """Log out this browser: revoke its row and clear the cookie."""
    row = current()
    if row is not None and row.revoked_at is None:
        row.revoked_at = db.utcnow()
    logout_user()
    session.clear()


def load_principal(login_id: str) -> Customer | User | None:
    """flask-login's user loader: the principal behind a rotating login id, if its session row is still live."""
    kind, _, value = login_id.partition(":")
    model = {"customer": Customer, "user": User}.get(kind)
    sid = session.get("sid")
    if model is None or not value or not sid:
        return None
    # The principal and its session row in one statement (every signed-in request runs it); a user's memberships
    # come with it, since every admin page asks the user's role in its organization.
    found = (
        db.session.execute(
            select(model, LoginSession)
            .join(
                LoginSession,
                (LoginSession.principal_type == kind) & (LoginSession.principal_id == model.id),
            )
            .where(model.login_id == value, LoginSession.sid == sid)
            .options(*((joinedload(User.memberships),) if model is User else ()))
        )
        .unique()
        .first()
    )
    if found is None:
        return None
    principal, row = found
    if not principal.is_active or row.revoked_at is not None:
        return None
    idle, absolute = LIFETIMES[kind]
    now = db.utcnow()
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        _write_apart(row, revoked_at=now)
        return None
    if now - row.last_seen_at > timedelta(seconds=30):  # bounded write rate for busy sessions
        _write_apart(row, last_seen_at=now)
    current_app.logger.debug("session %s loaded", row.id)
    return principal


def _write_apart(row: LoginSession, **values: object) -> None:
    """Session bookkeeping on a read request, in its own short transaction (`db.write_apart`): committed whatever
    the request's outcome, and never a reason for a signed-in GET to fail on SQLite's single writer."""
    db.write_apart(update(LoginSession).where(LoginSession.id == row.id).values(**values))
    for name, value in values.items():
        set_committed_value(row, name, value)


def revoke(principal: Customer | User, sid: str | None = None) -> int:
    """Revoke one session of a principal (by sid) or all of them. Returns how many ended."""
    query = select(LoginSession).where(
        LoginSession.principal_type == principal_type(principal),
        LoginSession.principal_id == principal.id,
        LoginSession.revoked_at.is_(None),
    )
    if sid is not None:
        query = query.where(LoginSession.sid == sid)
    rows = db.session.scalars(query).all()
    for row in rows:
        row.revoked_at = db.utcnow()
    return len(rows)
