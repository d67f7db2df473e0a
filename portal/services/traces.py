"""What a customer leaves outside its own rows: sessions, tokens, action links, passkeys, pending sign-ups, emails
(the outbox rows and the delivered `.eml` files). Both ways out of the database erase them the same way: the
anonymization job (`portal.jobs.eraser`) and a customer's deletion (`customers.delete_customer`).

Emails are found by the customer's id and also by address: a sign-up's verification mail is queued before the
customer exists, so it may carry no id (`accounts.verify_sign_up` links it once followed, but an unfollowed one
never is).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, func, null, or_, select, text, update

from portal import db
from portal.models import ActionToken, EventCallback, LoginSession, OAuthToken, OutboxMessage, Passkey

# What an event payload may keep: ids only.
EVENT_KEYS = frozenset({"type", "id", "request"})
# The columns each statement below writes, for the registry check (tests/test_privacy_registry.py).
WRITES = {
    "login_sessions": {"ip_address", "user_agent", "revoked_at"},
    "oauth_tokens": {"custom_claim", "revoked_at"},
    "action_tokens": {"token_hash", "purpose", "payload"},
    "outbox_messages": {"payload", "recipients"},
    "event_callbacks": {"payload", "response_message"},
}


def erase(customer_ids: list[int], addresses: set[tuple[int, str]]) -> None:
    """End the customers' sessions and tokens (clearing their network details and custom claims), delete their
    action links, passkeys and any pending sign-up for their addresses, and erase the emails they were sent.
    `addresses` holds (organization id, email) pairs: an address is only ever matched within its own org. The
    addresses the customers were emailed at (an earlier email, before a change) count too."""
    now = db.utcnow()
    sessions, tokens = LoginSession.__table__, OAuthToken.__table__
    db.session.execute(
        update(sessions)
        .where(sessions.c.principal_type == "customer", sessions.c.principal_id.in_(customer_ids))
        .values(revoked_at=func.coalesce(sessions.c.revoked_at, now), ip_address=None, user_agent=None)
    )
    db.session.execute(
        update(tokens)
        .where(tokens.c.owner_type == "customer", tokens.c.owner_id.in_(customer_ids))
        .values(revoked_at=func.coalesce(tokens.c.revoked_at, now), custom_claim=null())
    )
    passkeys = Passkey.__table__
    db.session.execute(
        delete(passkeys).where(
            passkeys.c.principal_type == "customer", passkeys.c.principal_id.in_(customer_ids)
        )
    )
    addresses = addresses | _former_addresses(customer_ids)
    _delete_action_tokens(customer_ids, addresses)
    _erase_outbox(customer_ids, addresses)
    _erase_event_callbacks(customer_ids)


def _former_addresses(customer_ids: list[int]) -> set[tuple[int, str]]:
    outbox = OutboxMessage.__table__
    rows = db.session.execute(
        select(outbox.c.organization_id, outbox.c.recipients).where(
            outbox.c.customer_id.in_(customer_ids), outbox.c.kind == "email"
        )
    ).all()
    return {(row.organization_id, to) for row in rows for to in row.recipients or []}


def purge_search_index() -> None:
    """SQLite's FTS5 email index keeps deleted trigrams in old segments until they merge: merge them now (after the
    emails were replaced or their rows deleted, and flushed)."""
    if db.session.get_bind().dialect.name != "sqlite":
        return
    if db.session.scalar(text("SELECT 1 FROM sqlite_master WHERE name = 'customers_email_fts'")):
        db.session.execute(text("INSERT INTO customers_email_fts(customers_email_fts) VALUES ('optimize')"))


def _delete_action_tokens(customer_ids: list[int], addresses: set[tuple[int, str]]) -> None:
    """The customers' own links, and sign-ups not yet followed for one of their addresses (such a link would
    otherwise re-create the account, password hash included)."""
    table = ActionToken.__table__
    db.session.execute(
        delete(table).where(table.c.principal_type == "customer", table.c.principal_id.in_(customer_ids))
    )
    pending = db.session.execute(
        select(table.c.id, table.c.organization_id, table.c.payload).where(
            table.c.purpose == "signup",
            table.c.principal_id == 0,
            table.c.organization_id.in_({org for org, _ in addresses}),
        )
    ).all()
    doomed = [
        row.id for row in pending if (row.organization_id, (row.payload or {}).get("email")) in addresses
    ]
    if doomed:
        db.session.execute(delete(table).where(table.c.id.in_(doomed)))


def _erase_outbox(customer_ids: list[int], addresses: set[tuple[int, str]]) -> None:
    """Undelivered emails are deleted (they must not reach the old address), delivered ones emptied (the row stays as
    a record that something was sent) and their `.eml` file removed; event payloads keep ids only."""
    outbox = OutboxMessage.__table__
    mine = outbox.c.customer_id.in_(customer_ids)
    emails = _emails(mine, addresses)
    if emails:
        doomed = outbox.c.id.in_([row.id for row in emails])
        db.session.execute(delete(outbox).where(doomed, outbox.c.delivered_at.is_(None)))
        db.session.execute(update(outbox).where(doomed).values(payload={}, recipients=[]))
        remove_mail_files(row.public_id for row in emails)
    for message_id, payload in db.session.execute(
        select(outbox.c.id, outbox.c.payload).where(mine, outbox.c.kind != "email")
    ).all():
        kept = {name: value for name, value in (payload or {}).items() if name in EVENT_KEYS}
        if kept != payload:
            db.session.execute(update(outbox).where(outbox.c.id == message_id).values(payload=kept))


def _erase_event_callbacks(customer_ids: list[int]) -> None:
    """Webhook bodies about these customers keep the record's identifier only, sent or not (a pending one still
    goes out, without the personal data); the receiver's answer excerpt may echo the body, so it goes too."""
    table = EventCallback.__table__
    for callback_id, payload in db.session.execute(
        select(table.c.id, table.c.payload).where(table.c.customer_id.in_(customer_ids))
    ).all():
        try:
            data = json.loads(payload).get("data") or {}
        except (ValueError, AttributeError):
            data = {}
        identifier = {"data": {"id": data.get("id"), "type": data.get("type")}}
        db.session.execute(
            update(table)
            .where(table.c.id == callback_id)
            .values(payload=json.dumps(identifier, separators=(",", ":")), response_message=None)
        )


def _emails(mine: Any, addresses: set[tuple[int, str]]) -> list[Any]:
    """Email rows of these customers, or sent to one of these addresses (in its org) without a customer id."""
    outbox = OutboxMessage.__table__
    unowned = and_(
        outbox.c.customer_id.is_(None), outbox.c.organization_id.in_({org for org, _ in addresses})
    )
    rows = db.session.execute(
        select(
            outbox.c.id,
            outbox.c.public_id,
            outbox.c.organization_id,
            outbox.c.customer_id,
            outbox.c.recipients,
        ).where(outbox.c.kind == "email", or_(mine, unowned))
    ).all()
    return [
        row
        for row in rows
        if row.customer_id is not None
        or {(row.organization_id, to) for to in row.recipients or []} & addresses
    ]


def mail_file(directory: str, created_at: Any, public_id: str) -> Path:
    """Where the file mailer (no SMTP configured) writes an email: named by the outbox row's public id."""
    return Path(directory) / f"{created_at:%Y%m%d-%H%M%S}-{public_id}.eml"


def remove_mail_files(public_ids: Iterable[str]) -> None:
    """Delete the `.eml` files of these outbox rows. Done before the commit: if the erasure then fails, the files of a
    customer whose erasure was due are gone anyway, which errs on the right side."""
    directory = Path(current_app.config["MAIL_DIR"])
    if not directory.is_dir():
        return
    for public_id in public_ids:
        for path in directory.glob(f"*-{public_id}.eml"):
            path.unlink(missing_ok=True)
