"""Shopper-area fixtures: an org with a signed-in customer, CSRF tokens read from the rendered forms, a real SMTP
server (aiosmtpd) receiving what the outbox delivers."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from portal import mailer
from tests.factories import PASSWORD, make_customer, make_org

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_form(client, page_url: str, data: dict, *, url: str | None = None, **kwargs):
    """Load the page (as a browser would), take its CSRF token, submit `data` to `url` (default: the page)."""
    page = client.get(page_url)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(url or page_url, data={"csrf_token": token, **data}, **kwargs)


def login(client, org, email: str, password: str = PASSWORD):
    response = post_form(client, f"/{org.slug}/account/login", {"email": email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


@pytest.fixture()
def org(db_session):
    return make_org()


@pytest.fixture()
def shopper(org):
    return make_customer(org, password=PASSWORD)


@pytest.fixture()
def signed_in(client, org, shopper):
    login(client, org, shopper.email)
    return client


class Inbox:
    def __init__(self):
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def text(message: Message) -> str:
        part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        return part.get_payload(decode=True).decode()

    def link(self, message: Message, path_part: str) -> str:
        """The path of the first link in the message's text containing `path_part`."""
        match = re.search(r"https?://[^/\s]+(/\S*" + re.escape(path_part) + r"\S*)", self.text(message))
        assert match, self.text(message)
        return match.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def smtp(app, monkeypatch):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    yield inbox
    controller.stop()


@pytest.fixture()
def deliver(app, smtp):
    """Run the outbox delivery (as the worker does) and return the inbox."""

    def run() -> Inbox:
        mailer.deliver_due(app)
        return smtp

    return run
