"""Staff can replace their recovery codes (used some, or lost the sheet): only with a recent sign-in, the old unused
codes stop working, the new ones are shown once and work once."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from portal import db
from portal.models import AuditEvent, LoginSession
from portal.services import staff
from portal.services.audit import Actor
from tests.admin.conftest import token

RENEW = "/admin/account/two-factor/recovery-codes"


def _enrol(admin) -> list[str]:
    import pyotp

    secret = staff.new_totp_secret()
    return staff.enable_totp(Actor.of_user(admin), admin, secret, pyotp.TOTP(secret).now())


def _renew(client):
    return client.post(RENEW, data={"csrf_token": token(client, "/admin/account/security")})


def test_new_codes_replace_the_unused_ones(as_admin, admin):
    old = _enrol(admin)
    assert staff.verify_second_factor(admin, old[0], None)  # one used: nine left
    page = as_admin.get("/admin/account/security")
    assert "Recovery codes left: 9" in page.text and "Get new recovery codes" in page.text
    response = _renew(as_admin)
    assert response.status_code == 200
    new = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", response.text)
    assert len(new) == staff.RECOVERY_CODES and not set(new) & set(old)
    assert "Your previous codes no longer work." in response.text
    assert not staff.verify_second_factor(admin, old[1], None)  # an unused old code is gone
    assert staff.verify_second_factor(admin, new[0], None)
    assert not staff.verify_second_factor(admin, new[0], None)  # and each new one works once
    actions = db.session.scalars(AuditEvent.__table__.select().with_only_columns(AuditEvent.action)).all()
    assert "user.recovery_codes_renew" in actions


def test_without_a_recent_sign_in_nothing_changes(as_admin, admin):
    old = _enrol(admin)
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.principal_type == "user", LoginSession.principal_id == admin.id)
        .values(authenticated_at=db.utcnow() - timedelta(minutes=11))
    )
    response = _renew(as_admin)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/account/security")
    assert "sign out and sign in again first" in as_admin.get("/admin/account/security").text
    assert staff.verify_second_factor(admin, old[0], None)  # the old codes still work


def test_without_two_factor_there_is_nothing_to_renew(as_admin, admin):
    assert "Get new recovery codes" not in as_admin.get("/admin/account/security").text
    response = _renew(as_admin)
    assert response.status_code == 303
    assert "Two-factor authentication is off" in as_admin.get("/admin/account/security").text
    assert admin.recovery_code_hashes in (None, [])


def test_a_forged_post_is_refused(as_admin, admin):
    _enrol(admin)
    before = list(admin.recovery_code_hashes)
    assert as_admin.post(RENEW, data={}).status_code == 400
    assert admin.recovery_code_hashes == before
