"""Passkeys of customers and staff: register several, name and remove them, sign in with one.

A passkey is a second way in, never a weaker one. Sign-in goes through the same lockout as the password (a refused
passkey counts as a failed attempt of that account; an unknown credential counts against the client's address), a
challenge is spent by its first use, the origin and RP ID are the portal's own (security/webauthn.py), and an
assertion must raise the credential's signature counter when the authenticator keeps one, so a cloned or replayed
assertion is refused. A customer's passkey signs in to that customer in that org only: the same credential
presented on another org's page finds no account. For staff a passkey is both factors at once (possession of the
authenticator, and user verification on it), so the TOTP step is skipped (README: security notes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json_dict,
    parse_authentication_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal import db
from portal.errors import Invalid, NotFound
from portal.models import Customer, Organization, Passkey, User, column_length
from portal.security import throttle
from portal.security import webauthn as rp
from portal.security.sessions import principal_type
from portal.services import validation
from portal.services.audit import Actor, record

MAX_PASSKEYS = 10
NAME_LENGTH = column_length(Passkey.name)
DEFAULT_NAME = "Passkey"
TIMEOUT_MS = 120_000
EXPIRED = "The passkey request has expired: try again"
NOT_VERIFIED = "could not be verified"


def _org_id(org: Organization | None) -> int | None:
    return org.id if org is not None else None


def user_handle(principal: Customer | User) -> bytes:
    """WebAuthn's user.id: opaque, stable, distinct per account (one person in two orgs is two accounts, and both
    orgs share one RP ID, so the handle must tell them apart)."""
    return f"{principal_type(principal)}:{principal.public_id}".encode()


def list_for(principal: Customer | User) -> list[Passkey]:
    return list(
        db.session.scalars(
            select(Passkey)
            .where(Passkey.principal_type == principal_type(principal), Passkey.principal_id == principal.id)
            .order_by(Passkey.id)
        )
    )


def get(principal: Customer | User, public_id: str) -> Passkey:
    """One of the principal's own passkeys; anyone else's (another org's, another person's): NotFound."""
    passkey = db.session.scalar(
        select(Passkey).where(
            Passkey.public_id == public_id,
            Passkey.principal_type == principal_type(principal),
            Passkey.principal_id == principal.id,
        )
    )
    if passkey is None:
        raise NotFound("The requested resource was not found", field="id")
    return passkey


def _name(value: Any) -> str:
    return validation.text(value, "name", max_length=NAME_LENGTH) or DEFAULT_NAME


# --- registration --------------------------------------------------------------------------------------------


def registration_options(principal: Customer | User, org: Organization | None) -> tuple[dict[str, Any], str]:
    """Options for navigator.credentials.create() and the challenge (base64url) the caller keeps for the answer.
    The passkey is discoverable (the browser offers it without a typed email) and the account's own passkeys are
    excluded (one authenticator, one passkey per account)."""
    kind = principal_type(principal)
    challenge = rp.new_challenge(rp.REGISTER, kind, principal.id, _org_id(org))
    label = f"{principal.email} ({org.name})" if org is not None else principal.email
    options = generate_registration_options(
        rp_id=rp.rp_id(),
        rp_name=org.name if org is not None else "Customer Portal",
        user_name=label,
        user_id=user_handle(principal),
        user_display_name=label,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=_user_verification(kind),
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id)) for p in list_for(principal)
        ],
    )
    return options_to_json_dict(options), bytes_to_base64url(challenge)


def register(
    actor: Actor,
    principal: Customer | User,
    org: Organization | None,
    credential: Any,
    challenge: Any,
    name: Any,
) -> Passkey:
    """Store the new passkey once its attestation checks out against the challenge issued to this principal."""
    name = _name(name)
    count = db.session.scalar(
        select(func.count()).where(
            Passkey.principal_type == principal_type(principal), Passkey.principal_id == principal.id
        )
    )
    if count >= MAX_PASSKEYS:
        raise Invalid(f"You can keep at most {MAX_PASSKEYS} passkeys", field="credential", code="too_many")
    kind = principal_type(principal)
    expected = rp.spend_challenge(rp.REGISTER, challenge, kind, principal.id, _org_id(org))
    if expected is None:
        raise Invalid(EXPIRED, field="credential", code="expired")
    try:
        verified = verify_registration_response(
            credential=credential if isinstance(credential, dict | str) else "",
            expected_challenge=expected,
            expected_rp_id=rp.rp_id(),
            expected_origin=rp.origin(),
            require_user_verification=_user_verification(kind) is UserVerificationRequirement.REQUIRED,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise Invalid(NOT_VERIFIED, field="credential", code="invalid") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)) is not None:
        raise Invalid("This passkey is already registered", field="credential", code="taken")
    transports = credential.get("response", {}).get("transports") if isinstance(credential, dict) else None
    passkey = Passkey(
        organization_id=_org_id(org),
        principal_type=kind,
        principal_id=principal.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
        transports=[t for t in transports or [] if isinstance(t, str)][:8],
        backed_up=verified.credential_backed_up,
    )
    db.session.add(passkey)
    db.session.flush()
    record(actor, org, f"{kind}.passkey_create", principal, ["passkeys"], passkey=passkey.public_id)
    return passkey


def rename(
    actor: Actor, principal: Customer | User, org: Organization | None, public_id: str, name: Any
) -> Passkey:
    passkey = get(principal, public_id)
    passkey.name = _name(name)
    db.session.flush()
    record(
        actor, org, f"{principal_type(principal)}.passkey_update", principal, ["passkeys"], passkey=public_id
    )
    return passkey


def remove(actor: Actor, principal: Customer | User, org: Organization | None, public_id: str) -> None:
    """Forget a passkey. The authenticator may still offer it; the portal no longer accepts it."""
    passkey = get(principal, public_id)
    db.session.delete(passkey)
    db.session.flush()
    record(
        actor, org, f"{principal_type(principal)}.passkey_destroy", principal, ["passkeys"], passkey=public_id
    )


# --- sign-in -------------------------------------------------------------------------------------------------


def sign_in_options(kind: str, org: Organization | None) -> tuple[dict[str, Any], str]:
    """Options for navigator.credentials.get(), with no credential list: the browser offers the discoverable
    passkeys it holds for the portal (conditional UI in the email field, or the "Sign in with a passkey" button)."""
    challenge = rp.new_challenge(rp.SIGN_IN, kind, 0, _org_id(org))
    options = generate_authentication_options(
        rp_id=rp.rp_id(),
        challenge=challenge,
        timeout=TIMEOUT_MS,
        user_verification=_user_verification(kind),
    )
    return options_to_json_dict(options), bytes_to_base64url(challenge)


def _user_verification(kind: str) -> UserVerificationRequirement:
    """Staff passkeys need user verification (PIN, biometrics), at registration and sign-in: a staff passkey sign-in
    replaces the password and counts as the org's second factor (sessions.two_factor), which a key without a PIN,
    proving possession on a touch, is not."""
    return UserVerificationRequirement.REQUIRED if kind == "user" else UserVerificationRequirement.PREFERRED


def _owner(passkey: Passkey | None, kind: str, org: Organization | None) -> Customer | User | None:
    if passkey is None:
        return None
    if kind == "customer":
        return db.session.scalar(
            select(Customer).where(
                Customer.id == passkey.principal_id, Customer.organization_id == _org_id(org)
            )
        )
    return db.session.get(User, passkey.principal_id)


def _find(kind: str, org: Organization | None, credential: Any) -> Passkey | None:
    credential_id = credential.get("id") if isinstance(credential, dict) else None
    if not isinstance(credential_id, str) or not credential_id or len(credential_id) > 1400:
        return None
    org_match = Passkey.organization_id == org.id if org is not None else Passkey.organization_id.is_(None)
    return db.session.scalar(
        select(Passkey).where(
            Passkey.credential_id == credential_id, Passkey.principal_type == kind, org_match
        )
    )


def _assertion_ok(passkey: Passkey, owner: Customer | User, credential: Any, expected: bytes) -> bool:
    try:
        parsed = parse_authentication_credential_json(credential)
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=expected,
            expected_rp_id=rp.rp_id(),
            expected_origin=rp.origin(),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=_user_verification(principal_type(owner))
            is UserVerificationRequirement.REQUIRED,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return False
    if parsed.response.user_handle and parsed.response.user_handle != user_handle(owner):
        return False
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = db.utcnow()
    return True


def authenticate(kind: str, org: Organization | None, credential: Any, challenge: Any, ip: str | None):
    """The active customer (of `org`) or staff user (`org` None) whose passkey produced this assertion, or None.

    The challenge is spent whatever happens next. A failure counts in the account's lockout, the same budget as
    its password; an unknown credential counts against the client's address. A locked account is refused before
    any check, exactly as the password login does."""
    passkey = _find(kind, org, credential)
    owner = _owner(passkey, kind, org)
    if owner is not None:
        account = validation.email_key(owner.email)
    else:
        account = "passkey:" + (passkey.credential_id if passkey else "unknown")
    scope = throttle.customer_scope(org.id) if kind == "customer" and org is not None else throttle.STAFF

    def verify() -> bool:
        expected = rp.spend_challenge(rp.SIGN_IN, challenge, kind, 0, _org_id(org))
        if expected is None or passkey is None or owner is None or not owner.is_active:
            return False
        return _assertion_ok(passkey, owner, credential, expected)

    return owner if throttle.check(scope, account, ip, verify) else None
