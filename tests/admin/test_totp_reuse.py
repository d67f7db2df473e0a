"""A TOTP code is accepted once: not again within its 30-second step, nor an earlier step's code after it
(issue 12, informational). The last accepted step is stored per user (users.totp_last_step)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp

from portal import db
from portal.services import staff
from portal.services.audit import Actor
from tests.admin.conftest import csrf_from, token
from tests.factories import PASSWORD


def _enrol(admin) -> tuple[pyotp.TOTP, int]:
    secret = staff.new_totp_secret()
    totp = pyotp.TOTP(secret)
    step = totp.timecode(datetime.now(UTC))
    staff.enable_totp(Actor.of_user(admin), admin, secret, totp.generate_otp(step - 1))
    db.session.flush()
    return totp, step


def _sign_in(client, admin, code: str) -> int:
    page = client.get("/admin/login")
    data = {"email": admin.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)}
    assert client.post("/admin/login", data=data).headers["Location"].startswith("/admin/login/code")
    return client.post(
        "/admin/login/code", data={"code": code, "csrf_token": token(client, "/admin/login/code")}
    ).status_code


def test_a_code_signs_in_once(app, client, admin):
    totp, step = _enrol(admin)
    assert _sign_in(client, admin, totp.generate_otp(step - 1)) == 422  # the enrolment code
    assert _sign_in(client, admin, totp.generate_otp(step)) == 303
    other = app.test_client()
    assert _sign_in(other, admin, totp.generate_otp(step)) == 422  # the same code, same step, another browser
    assert _sign_in(other, admin, totp.generate_otp(step - 1)) == 422  # an earlier step's code
    assert _sign_in(other, admin, totp.generate_otp(step + 1)) == 303  # the next step's code still works
    db.session.refresh(admin)
    assert admin.totp_last_step == step + 1
