"""Signing in with an emailed code through the pages, the code read from a real SMTP server (aiosmtpd) the outbox
delivers to: the guest's journey, the same answer for an unknown address, guessing until the code dies, Italian."""

from __future__ import annotations

import re

import pytest

from portal.extensions import limiter
from tests.factories import make_customer
from tests.shop.conftest import post_form


def code_from(inbox, to: str) -> str:
    message = inbox.to(to)[-1]
    return re.search(r"\b(\d{6})\b", inbox.text(message)).group(1)


def ask(client, org, email: str, query: str = ""):
    page = f"/{org.slug}/account/login/code{query}"
    return post_form(client, page, {"email": email})


def enter(client, org, code: str, query: str = ""):
    page = f"/{org.slug}/account/login/code/enter{query}"
    return post_form(client, page, {"code": code})


@pytest.fixture(autouse=True)
def _fresh_counters(client):
    limiter.reset()


def test_a_guest_signs_in_with_an_emailed_code(client, org, deliver):
    guest = make_customer(org, "guest@example.com")
    asked = ask(client, org, "guest@example.com", "?next=/" + org.slug + "/account/orders")
    assert asked.status_code == 303
    assert asked.location == f"/{org.slug}/account/login/code/enter?next=/{org.slug}/account/orders"
    page = client.get(asked.location).text
    assert "guest@example.com" in page and 'autocomplete="one-time-code"' in page
    code = code_from(deliver(), "guest@example.com")
    signed = enter(client, org, code, f"?next=/{org.slug}/account/orders")
    assert signed.status_code == 303 and signed.location == f"/{org.slug}/account/orders"
    assert client.get(f"/{org.slug}/account/").status_code == 200
    assert guest.email_verified_at is not None


def test_the_answer_is_the_same_for_an_unknown_address(client, org, deliver):
    make_customer(org, "known@example.com")
    known = ask(client, org, "known@example.com")
    known_page = client.get(known.location).text
    unknown = ask(client, org, "unknown@example.com")
    unknown_page = client.get(unknown.location).text
    assert known.status_code == unknown.status_code == 303 and known.location == unknown.location
    assert normalized(known_page, "known@example.com") == normalized(unknown_page, "unknown@example.com")
    inbox = deliver()
    assert len(inbox.to("known@example.com")) == 1 and inbox.to("unknown@example.com") == []


def normalized(html: str, email: str) -> str:
    """The page without what differs on every response (nonces, CSRF tokens) and the address typed."""
    html = re.sub(r'nonce="[^"]+"', "", html.replace(email, "EMAIL"))
    return re.sub(r'(csrf_token"[^>]*value="|X-CSRFToken": ")[^"]+', "", html)


def test_guessing_kills_the_code_after_five_tries(client, org, deliver):
    make_customer(org, "guess@example.com")
    ask(client, org, "guess@example.com")
    code = code_from(deliver(), "guess@example.com")
    other = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        response = enter(client, org, other)
        assert response.status_code == 422 and "wrong or has expired" in response.text
    response = enter(client, org, code)
    assert response.status_code == 422
    assert client.get(f"/{org.slug}/account/").status_code == 302


def test_the_code_page_without_an_address_goes_back_to_step_one(client, org):
    response = client.get(f"/{org.slug}/account/login/code/enter")
    assert response.status_code == 303 and response.location == f"/{org.slug}/account/login/code"


def test_a_bad_address_is_a_field_error(client, org):
    response = ask(client, org, "not an address")
    assert response.status_code == 422 and 'class="field-error"' in response.text


def test_the_pages_and_the_email_speak_italian(client, org, deliver):
    make_customer(org, "it@example.com").locale = "it"
    page = client.get(f"/{org.slug}/account/login", headers={"Accept-Language": "it"}).text
    assert "Inviami un codice di accesso via email" in page and "Accedi con una passkey" in page
    ask(client, org, "it@example.com")
    message = deliver().to("it@example.com")[-1]
    assert "codice di accesso" in message["Subject"]
    assert "Funziona una sola volta" in deliver().text(message)


def test_one_client_cannot_mail_codes_to_many_customers(app, client, org, deliver, monkeypatch):
    """5 codes an hour per address, and per client IP whatever the addresses (SIGN_IN_CODE_RATE_LIMIT)."""
    monkeypatch.setitem(app.config, "SIGN_IN_CODE_RATE_LIMIT", "3 per hour")
    for n in range(4):
        make_customer(org, f"victim{n}@example.com")
    assert [ask(client, org, f"victim{n}@example.com").status_code for n in range(3)] == [303, 303, 303]
    refused = ask(client, org, "victim3@example.com")
    assert refused.status_code == 429 and "Too many requests" in refused.text
    inbox = deliver()
    assert inbox.to("victim3@example.com") == [] and len(inbox.to("victim0@example.com")) == 1
    assert client.get(f"/{org.slug}/account/login/code").status_code == 200  # the page itself still opens
