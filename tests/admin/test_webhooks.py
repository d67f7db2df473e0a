"""The admin webhooks pages: create (secret shown once), rotate, reset, disable/enable, delete, recent deliveries;
read-only members see no secret and no write action; another org's webhook is not found."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal import db
from portal.jobs import webhooks as delivery
from portal.models import AuditEvent, Webhook
from portal.services import webhooks
from portal.services.audit import SYSTEM
from tests.admin.conftest import token
from tests.factories import make_customer


def _hook(org, url="http://127.0.0.1:9/hook"):
    return webhooks.create_webhook(SYSTEM, org, {"topic": "customers.create", "callback_url": url})


def test_create_shows_the_secret_once(as_admin, org):
    base = f"/admin/{org.slug}/settings/webhooks"
    form = {
        "csrf_token": token(as_admin, base),
        "name": "CRM",
        "topic": "customers.create",
        "callback_url": "http://127.0.0.1:9/hook",
        "include_resources": "customer_group, customer_addresses",
    }
    created = as_admin.post(base, data=form)
    assert created.status_code == 201
    hook = db.session.scalar(select(Webhook).where(Webhook.organization_id == org.id))
    assert hook.name == "CRM" and hook.include_resources == ["customer_group", "customer_addresses"]
    assert hook.shared_secret in created.text
    detail = as_admin.get(f"{base}/{hook.public_id}")
    assert detail.status_code == 200 and hook.shared_secret not in detail.text
    # The name's hint in full: a placeholder in angle brackets was once rendered as an (invisible) HTML element.
    assert "Optional: defaults to “Webhook” followed by its id." in as_admin.get(base).text


def test_bad_input_is_shown_inline_and_nothing_is_written(as_admin, org, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOCAL", False)
    base = f"/admin/{org.slug}/settings/webhooks"
    csrf = token(as_admin, base)
    for data, message in [
        (
            {"topic": "customers.create", "callback_url": "https://169.254.169.254/"},
            "private, loopback or reserved",
        ),
        ({"topic": "orders.place", "callback_url": "https://example.com/"}, "Not a valid choice"),
        ({"topic": "customers.create", "callback_url": ""}, "required"),
    ]:
        answer = as_admin.post(base, data={"csrf_token": csrf, **data})
        assert answer.status_code == 422 and message in answer.text, answer.text
    assert db.session.scalar(select(Webhook)) is None


def test_includes_are_the_apis_includable_relationships(as_admin, org):
    """The API's rule, refused inline: only relationships of the topic's record, and none about a request's token
    (`jwt_markets`: the worker building the body has none)."""
    base = f"/admin/{org.slug}/settings/webhooks"
    csrf = token(as_admin, base)
    for names in ("jwt_markets", "customer_group, nothing", "customer_group.jwt_customer"):
        data = {
            "topic": "customers.create",
            "callback_url": "http://127.0.0.1:9/hook",
            "include_resources": names,
        }
        answer = as_admin.post(base, data={"csrf_token": csrf, **data})
        wrong = sorted(n.strip() for n in names.split(",") if n.strip() != "customer_group")[0]
        assert answer.status_code == 422, names
        assert f"{wrong} is not an includable relationship of customers" in answer.text, names
    assert db.session.scalar(select(Webhook)) is None


def test_actions_rotate_reset_disable_enable_delete(as_admin, org):
    hook = _hook(org)
    secret = hook.shared_secret
    url = f"/admin/{org.slug}/settings/webhooks/{hook.public_id}"
    csrf = token(as_admin, url)
    rotated = as_admin.post(url, data={"csrf_token": csrf, "action": "rotate"})
    db.session.refresh(hook)
    assert rotated.status_code == 200 and hook.shared_secret != secret and hook.shared_secret in rotated.text
    hook.circuit_state, hook.circuit_failure_count = "open", 30
    assert as_admin.post(url, data={"csrf_token": csrf, "action": "reset"}).status_code == 303
    db.session.refresh(hook)
    assert hook.circuit_state == "closed" and hook.circuit_failure_count == 0
    as_admin.post(url, data={"csrf_token": csrf, "action": "disable"})
    db.session.refresh(hook)
    assert hook.disabled_at is not None
    as_admin.post(url, data={"csrf_token": csrf, "action": "enable"})
    db.session.refresh(hook)
    assert hook.disabled_at is None
    assert as_admin.post(url, data={"csrf_token": csrf, "action": "explode"}).status_code == 422
    secret = hook.shared_secret
    assert as_admin.post(url, data={"action": "rotate"}).status_code == 400  # no CSRF token
    db.session.refresh(hook)
    assert hook.shared_secret == secret
    assert as_admin.post(f"{url}/delete", data={"csrf_token": csrf}).status_code == 303
    assert db.session.scalar(select(Webhook)) is None
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.resource_type == "webhooks")))
    assert {"webhook.rotate_secret", "webhook.reset_circuit", "webhook.disable", "webhook.destroy"} <= actions


def test_recent_deliveries_show_status_codes(app, as_admin, org, receiver):
    hook = _hook(org, receiver.url())
    receiver.script = [503]
    make_customer(org)
    db.session.flush()
    delivery.deliver_due(app, now=db.utcnow() + timedelta(seconds=1))
    page = as_admin.get(f"/admin/{org.slug}/settings/webhooks/{hook.public_id}")
    assert "503" in page.text and "retrying" in page.text and "customers.create" in page.text


def test_read_only_sees_no_secret_and_no_actions(as_reader, org):
    hook = _hook(org)
    listed = as_reader.get(f"/admin/{org.slug}/settings/webhooks")
    assert listed.status_code == 200 and "New webhook" not in listed.text
    detail = as_reader.get(f"/admin/{org.slug}/settings/webhooks/{hook.public_id}")
    assert hook.shared_secret not in detail.text and "Rotate secret" not in detail.text


def test_another_orgs_webhook_is_not_found(as_admin, org, other_org):
    foreign = _hook(other_org)
    url = f"/admin/{org.slug}/settings/webhooks/{foreign.public_id}"
    csrf = token(as_admin, f"/admin/{org.slug}/settings/webhooks")
    assert as_admin.get(url).status_code == 404
    assert as_admin.post(url, data={"csrf_token": csrf, "action": "rotate"}).status_code == 404
    assert as_admin.post(f"{url}/delete", data={"csrf_token": csrf}).status_code == 404
    secret = foreign.shared_secret
    db.session.refresh(foreign)
    assert foreign.shared_secret == secret


def test_the_callback_hint_matches_the_configuration(as_admin, org, app, monkeypatch):
    base = f"/admin/{org.slug}/settings/webhooks"
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOCAL", True)
    page = as_admin.get(base).text
    assert "development mode" in page and "private and local addresses are refused" not in page
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOCAL", False)
    page = as_admin.get(base).text
    assert "private and local addresses are refused" in page and "development mode" not in page
