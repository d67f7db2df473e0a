"""Passkeys and sign-in codes in a real browser: Chromium's virtual authenticator (the WebAuthn DevTools domain)
stands in for a phone or a security key, static/js/passkeys.js does the ceremonies, the portal checks them.

WebAuthn refuses an IP address as RP ID, so these tests use the server under the name `localhost` (a secure
context, like 127.0.0.1) and point PORTAL_BASE_URL, which the RP ID and origin come from, at that name.
"""

from __future__ import annotations

import re
import time
from email import message_from_bytes
from pathlib import Path

import pyotp
import pytest

from portal import db
from portal.jobs import mailer
from portal.services import staff
from portal.services.audit import SYSTEM
from tests.browser.conftest import axe_violations
from tests.factories import PASSWORD, make_customer, make_org, make_user, unique

pytestmark = pytest.mark.browser


@pytest.fixture()
def base(live_server, monkeypatch) -> str:
    url = live_server.url.replace("127.0.0.1", "localhost")
    monkeypatch.setitem(live_server.app.config, "BASE_URL", url)
    return url


# A browser without conditional mediation: passkeys.js then offers only the button.
NO_AUTOFILL = (
    "Object.defineProperty(PublicKeyCredential, 'isConditionalMediationAvailable', {value: undefined})"
)


def virtual_authenticator(page) -> object:
    """A platform authenticator with user verification that says yes at once (no prompt to click)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return cdp, added["authenticatorId"]


def credentials(cdp, authenticator_id) -> list[dict]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_a_shopper_adds_a_passkey_and_signs_in_with_it(live_server, base, page):
    with live_server.data():
        org = make_org(unique("pk"))
        shopper = make_customer(org, f"{unique('pk')}@example.com", password=PASSWORD)
        slug, email = org.slug, shopper.email
        db.session.commit()
    cdp, authenticator = virtual_authenticator(page)
    errors = console_errors(page)

    page.goto(f"{base}/{slug}/account/login")
    page.get_by_role("button", name="Sign in with a passkey").wait_for()  # shown: the browser has WebAuthn
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Hello").wait_for()

    page.goto(f"{base}/{slug}/account/security")
    page.get_by_label("Name for the new passkey").fill("Test phone")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("Your passkey is added").wait_for()
    assert page.get_by_label("Passkey name").input_value() == "Test phone"
    assert axe_violations(page) == []
    [stored] = credentials(cdp, authenticator)
    assert stored["isResidentCredential"] and stored["rpId"] == "localhost"
    registered = stored["signCount"]

    # Signed out, the login page asks for a passkey in the email field's autofill (conditional mediation); the
    # virtual authenticator answers it at once, as a person picking their passkey there would.
    page.get_by_role("button", name="Sign out").first.click()
    page.get_by_role("heading", name="Hello").wait_for()
    assert page.url == f"{base}/{slug}/account/"
    assert credentials(cdp, authenticator)[0]["signCount"] == registered + 1

    # The button, in a browser that offers no passkey autofill (as before Chrome 108, or Firefox on some systems).
    page.add_init_script(NO_AUTOFILL)
    page.get_by_role("button", name="Sign out").first.click()
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_role("heading", name="Hello").wait_for()
    assert credentials(cdp, authenticator)[0]["signCount"] == registered + 2
    assert errors == []


def test_another_orgs_passkey_is_refused_on_the_page(live_server, base, page):
    with live_server.data():
        home, other = make_org(unique("pk")), make_org(unique("pk"))
        shopper = make_customer(home, f"{unique('pk')}@example.com", password=PASSWORD)
        home_slug, other_slug, email = home.slug, other.slug, shopper.email
        db.session.commit()
    virtual_authenticator(page)
    page.goto(f"{base}/{home_slug}/account/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Hello").wait_for()
    page.goto(f"{base}/{home_slug}/account/security")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("Your passkey is added").wait_for()

    page.goto(f"{base}/{other_slug}/account/login")  # the browser offers the passkey here too (one RP ID)
    page.get_by_text("That passkey didn't sign you in").wait_for()
    assert page.url == f"{base}/{other_slug}/account/login"


def test_staff_sign_in_with_a_passkey_skips_the_code(live_server, base, page):
    with live_server.data():
        org = make_org(unique("pk"))
        user = make_user(org, "admin", email=f"{unique('staff')}@example.com")
        secret = staff.new_totp_secret()
        staff.enable_totp(SYSTEM, user, secret, pyotp.TOTP(secret).at(time.time() - 30))
        slug, email = org.slug, user.email
        db.session.commit()
    cdp, authenticator = virtual_authenticator(page)
    errors = console_errors(page)

    page.goto(f"{base}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/login/code"))
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(rf"/admin/{slug}/$"))

    page.get_by_role("link", name="Account security").click()
    page.get_by_label("Name for the new passkey").fill("Desk key")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("Passkey added").wait_for()
    assert axe_violations(page) == []
    [stored] = credentials(cdp, authenticator)

    # Signed out, the login page's autofill request is answered by the authenticator: in, without the code.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(rf"/admin/{slug}/$"))
    assert credentials(cdp, authenticator)[0]["signCount"] == stored["signCount"] + 1
    assert errors == []


def newest_code(live_server, to: str) -> str:
    """Deliver the outbox (to .eml files, as without SMTP) and read the newest sign-in code sent to `to`."""
    with live_server.data():
        mailer.deliver_due(live_server.app)
    for path in sorted(
        Path(live_server.app.config["MAIL_DIR"]).glob("*.eml"), key=lambda p: p.stat().st_mtime
    )[::-1]:
        message = message_from_bytes(path.read_bytes())
        if message["To"] == to and "sign-in code" in message["Subject"]:
            text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            return re.search(r"\b(\d{6})\b", text.get_payload(decode=True).decode()).group(1)
    raise AssertionError(f"no sign-in code sent to {to}")


def test_a_guest_signs_in_with_an_emailed_code(live_server, base, page):
    with live_server.data():
        org = make_org(unique("pk"))
        guest = make_customer(org, f"{unique('guest')}@example.com")  # no password: ordered as a guest
        slug, email = org.slug, guest.email
        db.session.commit()
    errors = console_errors(page)
    page.goto(f"{base}/{slug}/account/login")
    page.get_by_role("link", name="Email me a sign-in code").click()
    assert axe_violations(page) == []
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_role("button", name="Email me a code").click()
    page.get_by_role("heading", name="Enter your code").wait_for()
    assert axe_violations(page) == []
    page.get_by_label("Sign-in code").fill(newest_code(live_server, email))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Hello").wait_for()
    assert errors == []
