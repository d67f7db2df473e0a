"""Interop: the official @commercelayer/sdk and @commercelayer/js-auth (npm) against a running portal."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from portal import db
from portal.jobs import webhooks as webhook_delivery
from portal.jobs import worker
from portal.models import OutboxMessage, PasswordReset, Webhook
from portal.models.staff import ApplicationKind
from portal.security.passwords import token_digest
from portal.services import orgs
from portal.services.audit import SYSTEM

pytestmark = pytest.mark.interop
ROOT = Path(__file__).resolve().parents[2]


def run_node(script: str, env: dict, phase: str, passes: int) -> None:
    node = shutil.which("node")
    assert node, "node is required for the interop tests (Node.js 20 is on the CI machines)"
    assert (ROOT / "node_modules" / "@commercelayer" / "sdk").exists(), "run `npm ci` first (.ci/run does)"
    result = subprocess.run(  # noqa: S603 - fixed command
        [node, "--test", str(ROOT / "tests" / "interop" / script)],
        cwd=ROOT,
        env={**os.environ, "CL_INTEROP": json.dumps(env), "CL_PHASE": phase},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"# pass {passes}\n" in result.stdout and "# fail 0" in result.stdout, result.stdout


def test_official_sdk(live_server, receiver):
    with live_server.data():
        org = orgs.create_org(SYSTEM, slug="sdk-interop", name="SDK interop")
        org.anonymization_delay_seconds = 0
        orgs.create_market(SYSTEM, org, name="Main", code="main")
        admin = orgs.create_user(
            SYSTEM,
            email="sdk.admin@example.com",
            password="a long admin password",
            first_name="Sid",
            last_name="Admin",
        )
        orgs.set_membership(SYSTEM, org, admin, "admin")
        integration, secret = orgs.create_application(
            SYSTEM, org, name="SDK", kind=ApplicationKind.INTEGRATION, role="admin"
        )
        provisioning, provisioning_secret = orgs.create_application(
            SYSTEM, None, name="Prov", kind=ApplicationKind.USER, user=admin
        )
        storefront, _ = orgs.create_application(SYSTEM, org, name="Store", kind=ApplicationKind.SALES_CHANNEL)
        env = {
            "base": live_server.url,
            "domain": live_server.app.config["DOMAIN"],
            "admin_email": admin.email,
            "integration": {"client_id": integration.client_id, "client_secret": secret},
            "provisioning": {"client_id": provisioning.client_id, "client_secret": provisioning_secret},
            "receiver": receiver.url("/sdk-hook"),
            "sales_channel": {"client_id": storefront.client_id},
        }
        db.session.commit()
    run_node("sdk.test.mjs", env, "main", passes=11)
    with live_server.data():
        env["reset"] = emailed_reset()  # what the customer's inbox holds: the Identity app's reset link
        assert worker.run_due(live_server.app) >= 1
        hook = db.session.scalar(select(Webhook).where(Webhook.name == "SDK hook"))
        secret = hook.shared_secret
    # What the SDK's webhook received: every body signed with the secret the SDK was given.
    assert len(receiver.received) >= 3
    for post in receiver.received:
        assert post.headers["X-CommerceLayer-Topic"] == "customers.create"
        assert post.headers["X-CommerceLayer-Signature"] == webhook_delivery.signature(secret, post.body)
    run_node("sdk.test.mjs", env, "after_worker", passes=3)


def emailed_reset() -> dict:
    """The reset id and token of the last password-reset email (the storefront's create never shows the token)."""
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "password_reset").order_by(OutboxMessage.id.desc())
    ).first()
    token = re.search(r"/password/reset/([A-Za-z0-9_-]+)", message.payload["text"]).group(1)
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_digest(token)))
    return {"id": reset.public_id, "token": token}
