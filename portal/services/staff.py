"""Org staff: sign-in checks, TOTP two-factor with recovery codes, invitations, org settings, the dashboard.

Plain functions with an explicit actor and org; they flush, never commit, and write audit events.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pyotp
from sqlalchemy import func, or_, select, update

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import ActionToken, Membership, Organization, User, column_length
from portal.models.customers import (
    AnonymizationStatus,
    Customer,
    CustomerStatus,
    DeletionRequest,
    DeletionRequestStatus,
)
from portal.models.staff import Role
from portal.security import passwords, throttle
from portal.services import customer_counts, mail, orgs, validation
from portal.services.audit import Actor, apply_changes, record

RECOVERY_CODES = 10
INVITE_LIFETIME = timedelta(days=7)
ISSUER = "Customer Portal"


# --- sign-in -------------------------------------------------------------------------------------------------


def _check_password(email: str, password: Any) -> User | None:
    user = orgs.find_user(email) if isinstance(email, str) else None
    secret = password if isinstance(password, str) else ""
    ok = passwords.verify_password(user.password_hash if user else None, secret)
    return user if ok and user is not None and user.is_active else None


def authenticate(email: Any, password: Any, ip: str | None) -> User | None:
    """The active user with this email and password, or None: the staff login's and re-authentication's one check,
    behind the lockout keyed on the normalized address. Same cost whether or not the account exists."""
    found: list[User] = []

    def verify() -> bool:
        user = _check_password(email, password)
        found.extend([user] if user else [])
        return user is not None

    ok = throttle.check(throttle.STAFF, validation.email_key(email), ip, verify)
    return found[0] if ok else None


def record_login(user: User) -> None:
    user.last_login_at = db.utcnow()
    record(Actor.of_user(user), None, "user.login", user)


def get_user(public_id: str) -> User | None:
    return db.session.scalar(select(User).where(User.public_id == public_id))


def confirm_presence(login_session: Any) -> None:
    """The user typed their password again: irreversible actions are allowed for the next minutes."""
    login_session.authenticated_at = db.utcnow()
    db.session.flush()


def memberships(user: User) -> list[Membership]:
    return sorted(user.memberships, key=lambda m: m.organization.name.lower())


# --- TOTP ----------------------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh TOTP secret for enrolment. Nothing is stored: the page keeps it until a code confirms it."""
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def _matching_step(secret: str | None, code: str) -> int | None:
    """The 30-second step (previous, current or next: clock drift) whose code this is, or None."""
    code = "".join((code or "").split())
    if not secret or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.now(UTC))
    return next((s for s in (now - 1, now, now + 1) if hmac.compare_digest(totp.generate_otp(s), code)), None)


def _use_step(user: User, step: int) -> bool:
    """Record `step` as the user's last accepted one, atomically, unless it (or a later one) was used already:
    a code seen over a shoulder or replayed from a log is refused, even within its 30 seconds."""
    used = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        return False
    user.totp_last_step = step
    return True


def enable_totp(actor: Actor, user: User, secret: str, code: str) -> list[str]:
    """Store the secret once a current code confirms it; returns 10 recovery codes, shown once and stored hashed."""
    if user.totp_enabled_at is not None:
        raise Invalid("Two-factor authentication is already on", field="code", code="invalid")
    step = _matching_step(secret, code)
    if step is None:
        raise Invalid("is not the current code of your authenticator app", field="code", code="invalid")
    codes = _new_recovery_codes(user)
    user.totp_secret = secret
    user.totp_enabled_at = db.utcnow()
    user.totp_last_step = step  # the enrolment code cannot sign in afterwards
    db.session.flush()
    record(actor, None, "user.totp_enable", user, ["totp_secret", "totp_enabled_at"])
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    """RECOVERY_CODES fresh codes replacing any unused ones: returned once, stored hashed."""
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    user.recovery_code_hashes = [passwords.token_digest(c) for c in codes]
    return codes


def regenerate_recovery_codes(actor: Actor, user: User) -> list[str]:
    """A new set of recovery codes (the unused old ones stop working), for someone who used or lost theirs."""
    if user.totp_enabled_at is None:
        raise Invalid(
            "Two-factor authentication is off: there are no recovery codes", field="code", code="invalid"
        )
    codes = _new_recovery_codes(user)
    db.session.flush()
    record(actor, None, "user.recovery_codes_renew", user, ["recovery_code_hashes"])
    return codes


def _second_factor_ok(user: User, code: str) -> bool:
    step = _matching_step(user.totp_secret, code) if user.totp_enabled_at is not None else None
    if step is not None:
        return _use_step(user, step)
    digest = passwords.token_digest((code or "").strip().lower())
    if digest in (user.recovery_code_hashes or []):
        user.recovery_code_hashes = [h for h in user.recovery_code_hashes if h != digest]
        db.session.flush()
        record(Actor.of_user(user), None, "user.recovery_code_use", user, ["recovery_code_hashes"])
        return True
    return False


def verify_second_factor(user: User, code: Any, ip: str | None) -> bool:
    """A current TOTP code, or an unused recovery code (which is then used up), behind the second factor's own
    lockout: the password step already passed, so guessing six digits must not be free."""
    code = code if isinstance(code, str) else ""
    account = validation.email_key(user.email)
    return throttle.check(throttle.STAFF_SECOND_FACTOR, account, ip, lambda: _second_factor_ok(user, code))


# --- invitations ---------------------------------------------------------------------------------------------


def invite(actor: Actor, org: Organization, email: str, role: str) -> tuple[User, str | None]:
    """Give someone a role in the org. A new person gets a user without password and an emailed invite link."""
    normalized = validation.email(email)
    user = orgs.find_user(normalized)
    if user is not None and user.role_in(org) is not None:
        raise Invalid("is already a member of this organization", field="email", code="taken")
    token = None
    if user is None:
        user = orgs.create_user(actor, email=normalized, password=None)
        token = passwords.new_token()
        db.session.add(
            ActionToken(
                token_hash=passwords.token_digest(token),
                purpose="invite",
                principal_type="user",
                principal_id=user.id,
                organization_id=org.id,
                expires_at=db.utcnow() + INVITE_LIFETIME,
            )
        )
    orgs.set_membership(actor, org, user, role)
    record(actor, org, "user.invite", user, ["role"], role=role)
    return user, token


def send_invite(org: Organization, user: User, token: str | None, link: str) -> None:
    mail.send(org, user.email, "admin_invite", user=user, link=link, new_user=token is not None)


def invite_for(token: str) -> tuple[ActionToken, User]:
    row = db.session.scalar(
        select(ActionToken).where(
            ActionToken.token_hash == passwords.token_digest(token or ""), ActionToken.purpose == "invite"
        )
    )
    if row is None or row.used_at is not None or row.expires_at < db.utcnow():
        raise NotFound("This invitation link is invalid or has expired", field="token")
    user = db.session.get(User, row.principal_id)
    if user is None:
        raise NotFound("This invitation link is invalid or has expired", field="token")
    return row, user


def accept_invite(token: str, *, password: str, first_name: str, last_name: str) -> User:
    """The invited person sets their name and password; the link is used up."""
    row, user = invite_for(token)
    passwords.check_policy(password, context=(user.email, user.email.split("@")[0]))
    user.first_name = validation.text(first_name, "first_name", required=True) or ""
    user.last_name = validation.text(last_name, "last_name") or ""
    user.password_hash = passwords.hash_password(password)
    row.used_at = db.utcnow()
    db.session.flush()
    record(Actor.of_user(user), None, "user.invite_accept", user, ["password", "first_name", "last_name"])
    return user


def members(org: Organization) -> list[Membership]:
    return list(
        db.session.scalars(
            select(Membership).join(User).where(Membership.organization_id == org.id).order_by(User.email)
        )
    )


def set_role(actor: Actor, org: Organization, user_public_id: str, role: str) -> None:
    """Change a member's role; the last admin cannot step down (the org would be unmanageable)."""
    membership = get_membership(org, user_public_id)
    if membership.role is Role.ADMIN and role != Role.ADMIN.value and _admin_count(org) <= 1:
        raise Invalid("The organization needs at least one admin", field="role", code="invalid")
    orgs.set_membership(actor, org, membership.user, role)


def remove_member(actor: Actor, org: Organization, user_public_id: str) -> None:
    membership = get_membership(org, user_public_id)
    if membership.role is Role.ADMIN and _admin_count(org) <= 1:
        raise Invalid("The organization needs at least one admin", field="role", code="invalid")
    record(actor, org, "membership.destroy", membership.user)
    db.session.delete(membership)
    db.session.flush()


def get_membership(org: Organization, user_public_id: str) -> Membership:
    """The org's membership of that user; another org's or an unknown user: NotFound."""
    membership = db.session.scalar(
        select(Membership)
        .join(User)
        .where(Membership.organization_id == org.id, User.public_id == user_public_id)
    )
    if membership is None:
        raise NotFound("The requested resource was not found", field="id")
    return membership


def _admin_count(org: Organization) -> int:
    return db.session.scalar(
        select(func.count()).where(Membership.organization_id == org.id, Membership.role == Role.ADMIN)
    )


# --- org settings --------------------------------------------------------------------------------------------


def clean_origin(value: str) -> str:
    """An origin is scheme://host[:port]: no path, query, fragment or credentials. https (http only for localhost)."""
    raw = (value or "").strip().rstrip("/")
    parts = urlsplit(raw)
    local = parts.hostname in ("localhost", "127.0.0.1")
    if (
        parts.scheme not in ("https", "http")
        or (parts.scheme == "http" and not local)
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise Invalid(
            f"{raw or 'an empty line'} is not an origin like https://shop.example.com",
            field="allowed_origins",
        )
    try:
        port = parts.port
    except ValueError:
        raise Invalid(f"{raw} has an invalid port", field="allowed_origins") from None
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def update_settings(actor: Actor, org: Organization, values: dict[str, Any]) -> Organization:
    """Branding, framing origins, anonymization delay, and the admin 2FA requirement of an organization."""
    clean: dict[str, Any] = {}
    if "name" in values:
        clean["name"] = validation.text(
            values["name"], "name", max_length=column_length(Organization.name), required=True
        )
    if "primary_color" in values:
        color = (values["primary_color"] or "").strip().lower()
        if len(color) != 7 or color[0] != "#" or any(ch not in "0123456789abcdef" for ch in color[1:]):
            raise Invalid("must be a hex colour like #1f4fd1", field="primary_color", code="invalid")
        clean["primary_color"] = color
    if "logo_url" in values:
        logo = (values["logo_url"] or "").strip() or None
        too_long = len(logo or "") > column_length(Organization.logo_url)
        if logo and (urlsplit(logo).scheme != "https" or not urlsplit(logo).hostname or too_long):
            raise Invalid("must be an https:// URL", field="logo_url", code="invalid")
        clean["logo_url"] = logo
    if "allowed_origins" in values:
        origins = [clean_origin(line) for line in values["allowed_origins"] if line.strip()]
        clean["allowed_origins"] = sorted(set(origins))
    if "anonymization_delay_seconds" in values:
        delay = values["anonymization_delay_seconds"]
        if delay is not None and not (0 <= int(delay) <= 90 * 86400):
            raise Invalid("must be between 0 seconds and 90 days", field="anonymization_delay_seconds")
        clean["anonymization_delay_seconds"] = delay
    if "require_admin_2fa" in values:
        clean["require_admin_2fa"] = bool(values["require_admin_2fa"])
    if "password_grant" in values and bool(values["password_grant"]) != orgs.password_grant_enabled(org):
        clean["settings"] = {**(org.settings or {}), "password_grant": bool(values["password_grant"])}
    apply_changes(actor, org, "organization.update", org, clean)
    return org


# --- dashboard -----------------------------------------------------------------------------------------------


def dashboard(org: Organization) -> dict[str, Any]:
    """Customers by status (from the counter rows), pending privacy work, and the latest sign-ups."""
    by_status = {CustomerStatus(status): count for status, count in customer_counts.by_status(org).items()}
    pending_anonymizations = db.session.scalar(
        select(func.count()).where(
            Customer.organization_id == org.id,
            Customer.anonymization_status.in_((AnonymizationStatus.REQUESTED, AnonymizationStatus.STARTED)),
        )
    )
    pending_deletions = db.session.scalar(
        select(func.count()).where(
            DeletionRequest.organization_id == org.id, DeletionRequest.status == DeletionRequestStatus.PENDING
        )
    )
    recent = list(
        db.session.scalars(
            select(Customer)
            .where(Customer.organization_id == org.id)
            .order_by(Customer.created_at.desc(), Customer.id.desc())
            .limit(8)
        )
    )
    return {
        "by_status": by_status,
        "pending_anonymizations": pending_anonymizations,
        "pending_deletions": pending_deletions,
        "recent": recent,
    }
