"""The WebAuthn relying party: who we are to an authenticator, and the single-use challenges of each ceremony.

The RP ID is the host of PORTAL_BASE_URL and the only accepted origin is that base URL's origin, never the request's
`Host`: a passkey is bound to the portal's public name, so a page served under another name cannot use it. Every
organization shares that RP ID (one host), which is why a passkey row records its org and sign-in checks it.

A challenge is random (32 bytes), lives 5 minutes, is stored hashed in `action_tokens` (purpose
`passkey_register` or `passkey_sign_in`) and is spent by the first response that presents it, whatever the
outcome of that response's checks.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, update
from sqlalchemy.exc import SQLAlchemyError
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from portal import db
from portal.extensions import limiter
from portal.models import ActionToken
from portal.security import passwords

CHALLENGE_LIFETIME = timedelta(minutes=5)
REGISTER = "passkey_register"
SIGN_IN = "passkey_sign_in"
# In Session.info: the challenges this request spent, spent again after a rollback.
SPENT = "spent_challenges"


def rp_id() -> str:
    return urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"


def origin() -> str:
    base = urlsplit(current_app.config["BASE_URL"])
    return f"{base.scheme}://{base.netloc}"


# The sign-in options are public and each stores a challenge: one budget per client IP, shop and admin alike,
# so an anonymous client cannot fill the table.
limit_sign_in_options = limiter.shared_limit(
    lambda: current_app.config["PASSKEY_OPTIONS_RATE_LIMIT"], scope="passkey-options"
)


def new_challenge(purpose: str, principal_type: str, principal_id: int, org_id: int | None) -> bytes:
    """A fresh challenge for one ceremony, stored hashed; expired challenges are swept on the way."""
    now = db.utcnow()
    table = ActionToken.__table__
    db.session.execute(
        delete(table).where(table.c.purpose.in_((REGISTER, SIGN_IN)), table.c.expires_at < now)
    )
    challenge = secrets.token_bytes(32)
    db.session.add(
        ActionToken(
            token_hash=passwords.token_digest(bytes_to_base64url(challenge)),
            purpose=purpose,
            principal_type=principal_type,
            principal_id=principal_id,
            organization_id=org_id,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    db.session.flush()
    return challenge


def challenge_of(credential: Any) -> str | None:
    """The challenge a sign-in assertion answers, as its clientDataJSON states it. The server's copy is found (and
    spent) by `spend_challenge`; the browser's session keeps none, so asking for sign-in options writes no cookie:
    one that did could land after the password login's and sign the person out again (they race on page load).
    The client writes clientDataJSON: nesting deeper than the parser's recursion limit is refused, not a 500."""
    try:
        client_data = json.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
    except (KeyError, TypeError, ValueError, RecursionError):
        return None
    challenge = client_data.get("challenge") if isinstance(client_data, dict) else None
    return challenge if isinstance(challenge, str) else None


def spend_challenge(
    purpose: str, challenge: Any, principal_type: str, principal_id: int, org_id: int | None
) -> bytes | None:
    """The challenge (bytes) if it was issued for this ceremony, principal and org, is unexpired and unspent. It is
    spent now, atomically (two responses racing with one challenge get one success), and stays spent when the
    request is refused and its transaction rolled back (`init_app`)."""
    if not isinstance(challenge, str) or not challenge or len(challenge) > 100:
        return None
    table = ActionToken.__table__
    digest = passwords.token_digest(challenge)
    spent = db.session.execute(
        update(table)
        .where(
            table.c.token_hash == digest,
            table.c.purpose == purpose,
            table.c.principal_type == principal_type,
            table.c.principal_id == principal_id,
            (table.c.organization_id == org_id) if org_id is not None else table.c.organization_id.is_(None),
            table.c.used_at.is_(None),
            table.c.expires_at > db.utcnow(),
        )
        .values(used_at=db.utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        return None
    db.session().info.setdefault(SPENT, []).append(digest)
    try:
        return base64url_to_bytes(challenge)
    except ValueError:
        return None


def init_app(app: Any) -> None:
    app.extensions.setdefault("after_rollback", []).append(_spend_again)


def _spend_again() -> None:
    """A refused sign-in rolls its transaction back; its challenge must stay spent all the same. (Spending again
    is idempotent, and the list lives in the request's session, which ends with the request: nothing to clear on
    commit, where another after-rollback hook's commit would clear it too early.)"""
    digests = db.session().info.pop(SPENT, [])
    if not digests:
        return
    table = ActionToken.__table__
    try:
        db.session.execute(update(table).where(table.c.token_hash.in_(digests)).values(used_at=db.utcnow()))
        db.session.commit()
    except SQLAlchemyError:  # the database went away mid-request: the response already says so
        db.session.rollback()
