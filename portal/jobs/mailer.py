"""Delivery of queued emails: SMTP when PORTAL_SMTP_URL is set, `.eml` files under instance/mail otherwise."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask
from sqlalchemy import select

from portal import db, jobs
from portal.models import OutboxMessage
from portal.services import traces

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 12


def build(app: Flask, message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = app.config["MAIL_FROM"]
    email["To"] = ", ".join(message.recipients)
    email["Subject"] = message.payload["subject"]
    email["Date"] = formatdate(message.created_at.timestamp(), usegmt=True)
    # Stable per outbox row: a resend after a crash between send and commit carries the same Message-ID, so receivers
    # can de-duplicate it.
    email["Message-ID"] = f"<{message.public_id}@{app.config['DOMAIN']}>"
    email.set_content(message.payload["text"])
    email.add_alternative(message.payload["html"], subtype="html")
    return email


def _send_smtp(url: str, email: EmailMessage) -> None:
    parts = urlsplit(url)
    options = parse_qs(parts.query)
    smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with smtp_class(
        parts.hostname or "localhost", parts.port or (465 if parts.scheme == "smtps" else 25), timeout=10
    ) as smtp:
        if options.get("starttls", ["0"])[0] in ("1", "true"):
            smtp.starttls()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(email)


def _write_file(directory: str, message: OutboxMessage, email: EmailMessage) -> Path:
    path = traces.mail_file(directory, message.created_at, message.public_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(email.as_bytes())
    return path


def deliver(app: Flask, message: OutboxMessage) -> None:
    email = build(app, message)
    if app.config["SMTP_URL"]:
        _send_smtp(app.config["SMTP_URL"], email)
        log.info("email %s delivered over SMTP (%s)", message.public_id, message.topic)
    else:
        path = _write_file(app.config["MAIL_DIR"], message, email)
        log.info("email %s written to %s (%s)", message.public_id, path, message.topic)


def deliver_due(app: Flask) -> int:
    """Deliver due emails one by one, each in its own transaction; failures back off exponentially. A stopping worker
    returns after the email in hand."""
    delivered = 0
    db.session.flush()
    while not jobs.STOPPING.is_set():
        now = db.utcnow()
        message = db.session.scalar(
            select(OutboxMessage)
            .where(
                OutboxMessage.kind == "email",
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.available_at <= now,
                OutboxMessage.attempts < MAX_ATTEMPTS,
            )
            .order_by(OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if message is None:
            break
        try:
            deliver(app, message)
        except (OSError, smtplib.SMTPException) as error:
            message.attempts += 1
            message.last_error = type(error).__name__
            message.available_at = now + timedelta(seconds=min(3600, 5 * 2**message.attempts))
            log.warning(
                "email %s not delivered (%s), attempt %d",
                message.public_id,
                message.last_error,
                message.attempts,
            )
            db.session.commit()
            return delivered
        message.delivered_at = db.utcnow()
        message.attempts += 1
        db.session.commit()
        delivered += 1
    db.session.commit()
    return delivered
