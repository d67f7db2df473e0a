"""Admin flows through the pages: two-factor sign-in, re-authentication, anonymization, privacy queue, groups,
settings (invites, credentials), password-reset links, deletion."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from sqlalchemy import select

from portal import db
from portal.models import LoginSession, OutboxMessage
from portal.services import applications, deletion_requests, staff
from portal.services.audit import SYSTEM, Actor
from tests.admin.conftest import csrf_from, login, token
from tests.factories import PASSWORD, make_customer, make_order, make_user


def test_totp_enrolment_and_sign_in(client, org, admin):
    login(client, admin)
    page = client.get("/admin/account/two-factor")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    assert "otpauth://totp/" in page.text
    wrong = client.post(
        "/admin/account/two-factor", data={"code": "000000", "csrf_token": csrf_from(page.text)}
    )
    assert wrong.status_code == 422
    page = client.get("/admin/account/two-factor")
    assert re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1) == secret  # a reload keeps it
    db.session.refresh(admin)
    assert admin.totp_secret is None  # nothing stored before a code confirms it
    done = client.post(
        "/admin/account/two-factor",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page.text)},
    )
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.text)
    assert done.status_code == 200 and len(codes) == 10
    db.session.refresh(admin)
    assert (
        admin.totp_enabled_at
        and len(admin.recovery_code_hashes) == 10
        and codes[0] not in str(admin.recovery_code_hashes)
    )
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/")})
    # Password alone is not enough any more.
    csrf = token(client, "/admin/login")
    step = client.post("/admin/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": csrf})
    assert step.headers["Location"].startswith("/admin/login/code")
    assert client.get(f"/admin/{org.slug}/").status_code == 303
    csrf = token(client, "/admin/login/code")
    assert client.post("/admin/login/code", data={"code": "123456", "csrf_token": csrf}).status_code == 422
    ok = client.post(
        "/admin/login/code", data={"code": codes[0], "csrf_token": csrf}
    )  # a recovery code, once
    assert ok.status_code == 303
    assert client.get(f"/admin/{org.slug}/").status_code == 200
    db.session.refresh(admin)
    assert len(admin.recovery_code_hashes) == 9


def test_org_requiring_2fa_sends_admins_to_enrolment(client, org, admin, reader):
    staff.update_settings(SYSTEM, org, {"require_admin_2fa": True})
    login(client, admin)
    response = client.get(f"/admin/{org.slug}/customers")
    assert response.status_code == 303 and response.headers["Location"].startswith(
        "/admin/account/two-factor"
    )


def test_user_in_two_orgs_gets_the_switcher(client, org, other_org, admin):
    from portal.services import orgs

    orgs.set_membership(SYSTEM, other_org, admin, "read_only")
    csrf = token(client, "/admin/login")
    response = client.post(
        "/admin/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.headers["Location"] == "/admin/"
    page = client.get("/admin/")
    assert f"/admin/{org.slug}/" in page.text and f"/admin/{other_org.slug}/" in page.text


def _age_login(client, minutes: int) -> None:
    for row in db.session.scalars(select(LoginSession).where(LoginSession.revoked_at.is_(None))):
        row.authenticated_at = row.authenticated_at - timedelta(minutes=minutes)


def test_anonymization_needs_confirmation_and_recent_login(as_admin, org, customer):
    base = f"/admin/{org.slug}/customers/{customer.public_id}"
    _age_login(as_admin, 11)
    stale = as_admin.get(f"{base}/anonymization?action=request")
    assert stale.status_code == 303 and "/reauth" in stale.headers["Location"]
    reauth_url = stale.headers["Location"]
    csrf = token(as_admin, reauth_url)
    assert as_admin.post(reauth_url, data={"password": "nope nope", "csrf_token": csrf}).status_code == 422
    assert as_admin.post(reauth_url, data={"password": PASSWORD, "csrf_token": csrf}).status_code == 303
    confirm = as_admin.get(f"{base}/anonymization?action=request")
    assert confirm.status_code == 200 and customer.anonymization_status is None
    done = as_admin.post(
        f"{base}/anonymization", data={"action": "request", "csrf_token": csrf_from(confirm.text)}
    )
    assert done.status_code == 303
    page = as_admin.get(base)
    assert "Anonymization requested" in page.text and "due" in page.text
    db.session.refresh(customer)
    assert customer.anonymization_status.value == "requested"
    again = as_admin.post(f"{base}/anonymization", data={"action": "request", "csrf_token": csrf})
    assert again.status_code == 422 and "already pending" in again.text
    cancel = as_admin.post(f"{base}/anonymization", data={"action": "cancel", "csrf_token": csrf})
    assert cancel.status_code == 303
    db.session.refresh(customer)
    assert customer.anonymization_status.value == "cancelled"


def test_deletion_request_approve_and_reject(as_admin, org):
    first, second = make_customer(org), make_customer(org)
    approve = deletion_requests.create(Actor.of_customer(first), org, first)
    reject = deletion_requests.create(Actor.of_customer(second), org, second)
    queue = as_admin.get(f"/admin/{org.slug}/privacy")
    assert first.email in queue.text and second.email in queue.text
    csrf = csrf_from(queue.text)
    r = as_admin.post(
        f"/admin/{org.slug}/privacy/deletions/{approve.public_id}/approve", data={"csrf_token": csrf}
    )
    assert r.status_code == 303
    r = as_admin.post(
        f"/admin/{org.slug}/privacy/deletions/{reject.public_id}/reject",
        data={f"{reject.public_id}-reason": "Open invoices", "csrf_token": csrf},
    )
    assert r.status_code == 303
    db.session.refresh(first)
    assert first.anonymization_status.value == "requested"
    assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "deletion_rejected"))
    assert first.email in as_admin.get(f"/admin/{org.slug}/privacy?state=requested").text


def test_group_delete_is_refused_with_the_reason(as_admin, org, group, customer):
    from portal.services import groups

    groups.assign_to_group(SYSTEM, org, customer, group)
    csrf = token(as_admin, f"/admin/{org.slug}/groups/{group.public_id}")
    refused = as_admin.post(f"/admin/{org.slug}/groups/{group.public_id}/delete", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "still has customers" in refused.text
    assert customer.email in as_admin.get(f"/admin/{org.slug}/groups/{group.public_id}").text


def test_inline_group_assignment_htmx(as_admin, org, group, customer, hx):
    csrf = token(as_admin, f"/admin/{org.slug}/customers/{customer.public_id}")
    response = as_admin.post(
        f"/admin/{org.slug}/customers/{customer.public_id}/group",
        data={"group": group.public_id, "csrf_token": csrf},
        headers=hx,
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section class="card" id="group_panel">')
    assert "Current: VIP" in response.text
    db.session.refresh(customer)
    assert customer.customer_group_id == group.id


def test_delete_customer_with_orders_is_locked(as_admin, org, customer):
    make_order(org, customer)
    csrf = token(as_admin, f"/admin/{org.slug}/customers/{customer.public_id}")
    response = as_admin.post(
        f"/admin/{org.slug}/customers/{customer.public_id}/delete", data={"csrf_token": csrf}
    )
    assert response.status_code == 423 and "anonymiz" in response.text
    lone = make_customer(org)
    response = as_admin.post(
        f"/admin/{org.slug}/customers/{lone.public_id}/delete", data={"csrf_token": csrf}
    )
    assert response.status_code == 303


def test_password_reset_link_is_mailed(as_admin, org):
    shopper = make_customer(org, password=PASSWORD)
    csrf = token(as_admin, f"/admin/{org.slug}/customers/{shopper.public_id}")
    response = as_admin.post(
        f"/admin/{org.slug}/customers/{shopper.public_id}/password-reset", data={"csrf_token": csrf}
    )
    assert response.status_code == 303
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "password_reset"))
    assert message.recipients == [shopper.email] and "/account/password/reset/" in message.payload["text"]


def test_invite_and_accept(as_admin, client, org):
    csrf = token(as_admin, f"/admin/{org.slug}/settings")
    r = as_admin.post(
        f"/admin/{org.slug}/settings/members",
        data={"email": "new@example.com", "role": "read_only", "csrf_token": csrf},
    )
    assert r.status_code == 303
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "admin_invite"))
    link = re.search(r"(/admin/invite/\S+)", message.payload["text"]).group(1)
    as_admin.post("/admin/logout", data={"csrf_token": csrf})
    page = client.get(link)
    bad = client.post(
        link,
        data={"first_name": "N", "password": "short", "confirm": "short", "csrf_token": csrf_from(page.text)},
    )
    assert bad.status_code == 422
    good = client.post(
        link,
        data={
            "first_name": "New",
            "password": "a fine passphrase",
            "confirm": "a fine passphrase",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert good.status_code == 303
    assert client.get(link).status_code == 404  # used up
    login(client, staff.get_user(staff.orgs.find_user("new@example.com").public_id), "a fine passphrase")


def test_secrets_are_shown_once(as_admin, org, admin):
    csrf = token(as_admin, f"/admin/{org.slug}/settings")
    created = as_admin.post(
        f"/admin/{org.slug}/settings/applications",
        data={"name": "ERP", "kind": "integration", "role": "admin", "csrf_token": csrf},
    )
    assert created.status_code == 201 and "Client secret" in created.text
    assert "Client secret" not in as_admin.get(f"/admin/{org.slug}/settings").text
    mine = as_admin.post(f"/admin/{org.slug}/settings/credentials", data={"csrf_token": csrf})
    assert "Client secret" in mine.text and applications.user_credentials(admin) is not None


def test_read_only_sees_settings_as_text(as_reader, org):
    page = as_reader.get(f"/admin/{org.slug}/settings")
    assert (
        page.status_code == 200 and "read-only access" in page.text and 'id="settings-readonly"' in page.text
    )
    for absent in ("Save settings", "Send invitation", "Create application", "Revoke", "disabled"):
        assert absent not in page.text
    assert "cannot change anything or request an anonymization" in page.text  # what their own token may do


def test_dashboard_chart_is_server_rendered_svg(as_reader, org):
    make_customer(org)
    page = as_reader.get(f"/admin/{org.slug}/")
    assert "<svg" in page.text and "prospect 1" in page.text


def test_user_lifetimes_are_admin_grade():
    from portal.security.sessions import LIFETIMES

    assert LIFETIMES["user"] == (timedelta(minutes=15), timedelta(hours=8))


def test_disabled_user_cannot_sign_in(client, org):
    user = make_user(org)
    user.disabled_at = db.utcnow()
    csrf = token(client, "/admin/login")
    r = client.post("/admin/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 422


def test_a_form_posted_after_signing_out_elsewhere_goes_to_the_login_page(
    client, org, admin, customer, group
):
    """Signing out in another tab empties the session, so the open page's form fails the CSRF check: an ended
    session, not a forgery. The browser goes to the login page (htmx: the whole page), nothing is written."""
    login(client, admin)
    page = f"/admin/{org.slug}/customers/{customer.public_id}"
    csrf = token(client, page)
    client.post("/admin/logout", data={"csrf_token": csrf})
    form = {"csrf_token": csrf, "group": group.public_id}
    response = client.post(f"{page}/group", data=form, headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/admin/login?next=")
    response = client.post(f"{page}/group", data=form)
    assert response.status_code == 303 and response.headers["Location"].startswith("/admin/login")
    assert customer.customer_group_id is None
