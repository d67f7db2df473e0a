"""Email delivery through the outbox: a real SMTP conversation (aiosmtpd), retries, files by default."""

import asyncio
import os
import signal
import threading

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from portal import db
from portal.jobs import mailer
from portal.models import OutboxMessage
from portal.services import mail
from tests.conftest import Inbox, free_port
from tests.serving import environment, worker


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


def test_message_id_is_the_outbox_rows_own(app, db_session):
    """A resend (crash between send and commit) carries the same Message-ID, so the receiver can de-duplicate it."""
    mail.send(None, "someone@example.com", "test_message", name="Sam")
    row = db.session.scalar(select(OutboxMessage))
    first, second = mailer.build(app, row), mailer.build(app, row)
    assert first["Message-ID"] == second["Message-ID"] == f"<{row.public_id}@{app.config['DOMAIN']}>"


class SlowInbox(Inbox):
    """Takes 50 ms per message and says when the first one arrived."""

    def __init__(self):
        super().__init__()
        self.first = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(0.05)
        self.first.set()
        return await super().handle_DATA(server, session, envelope)


def test_sigterm_stops_the_worker_after_the_email_in_hand(app, committed, tmp_path):
    """A stopping worker doesn't drain a backlog first (systemd would kill it mid-send): it finishes the email it is
    sending, commits, and exits; the rest wait for the next worker, none lost and none sent twice."""
    for n in range(100):
        mail.send(None, f"someone{n}@example.com", "test_message", name="Sam")
    db.session.commit()
    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        env = environment(
            PORTAL_DATABASE_URL=committed,
            PORTAL_INSTANCE_PATH=str(tmp_path / "instance"),
            PORTAL_SMTP_URL=f"smtp://127.0.0.1:{controller.port}",
        )
        process = worker(env)
        try:
            assert inbox.first.wait(60), "the worker sent nothing"
            os.kill(process.pid, signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    finally:
        controller.stop()
    db.session.rollback()
    delivered = db.session.scalar(select(func.count()).where(OutboxMessage.delivered_at.is_not(None)))
    assert 1 <= len(inbox.messages) < 100
    assert delivered == len(inbox.messages)
    assert len({m["Message-ID"] for m in inbox.messages}) == len(inbox.messages)
