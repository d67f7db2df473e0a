"""Email delivery through the outbox: a real SMTP conversation (aiosmtpd), retries, files by default."""

from aiosmtpd.controller import Controller
from sqlalchemy import select

from portal import db
from portal.jobs import mailer
from portal.models import OutboxMessage
from portal.services import mail
from tests.conftest import Inbox, free_port


def test_queued_email_is_delivered_once_over_smtp(app, db_session, smtp):
    inbox = smtp
    mail.send(None, "someone@example.com", "test_message", name="Sam")
    assert mailer.deliver_due(app) == 1
    assert mailer.deliver_due(app) == 0
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "someone@example.com" and message["Subject"] == "Test message for Sam"
    assert {part.get_content_type() for part in message.walk()} >= {"text/plain", "text/html"}


def test_smtp_down_retries_later_then_delivers_exactly_once(app, db_session, monkeypatch):
    port = free_port()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}")
    mail.send(None, "someone@example.com", "test_message", name="Sam")
    assert mailer.deliver_due(app) == 0
    row = db.session.scalar(select(OutboxMessage))
    assert row.attempts == 1 and row.delivered_at is None and row.last_error == "ConnectionRefusedError"
    assert mailer.deliver_due(app) == 0  # backing off: not due yet
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        row.available_at = db.utcnow()
        assert mailer.deliver_due(app) == 1
        assert mailer.deliver_due(app) == 0
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_without_smtp_emails_are_written_as_files(app, db_session, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    monkeypatch.setitem(app.config, "MAIL_DIR", str(tmp_path))
    mail.send(None, "someone@example.com", "test_message", name="Sam")
    assert mailer.deliver_due(app) == 1
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1 and b"Test message for Sam" in files[0].read_bytes()
