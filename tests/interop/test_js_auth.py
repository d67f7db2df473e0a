"""Interop: the official @commercelayer/js-auth against the portal's authorization server, over real HTTP."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from portal import db
from portal.extensions import limiter
from tests import factories

pytestmark = pytest.mark.interop
ROOT = Path(__file__).resolve().parents[2]


def test_js_auth(live_server):
    node = shutil.which("node")
    assert node, "node is required for the interop tests (Node.js 20 is on the CI machines)"
    assert (ROOT / "node_modules" / "@commercelayer" / "js-auth").exists(), "run `npm ci` first"
    with live_server.data():
        org = factories.make_org(f"js-auth-{secrets.token_hex(3)}")
        sales, _ = factories.make_application(org, "sales_channel")
        integration, secret = factories.make_application(org, "integration")
        admin = factories.make_user(org, "admin")
        provisioning, provisioning_secret = factories.make_application(None, "user", user=admin)
        customer = factories.make_customer(org, password=factories.PASSWORD)
        env = {
            "base": live_server.url,
            "domain": live_server.app.config["DOMAIN"],
            "org_slug": org.slug,
            "sales": {"client_id": sales.client_id},
            "integration": {"client_id": integration.client_id, "client_secret": secret},
            "provisioning": {"client_id": provisioning.client_id, "client_secret": provisioning_secret},
            "user_id": admin.public_id,
            "customer": {"id": customer.public_id, "email": customer.email, "password": factories.PASSWORD},
        }
        db.session.commit()
    with live_server.app.app_context():
        limiter.reset()  # the live server shares the token endpoint's per-IP budget with other live tests
    try:
        result = subprocess.run(  # noqa: S603 - fixed command
            [node, "--test", str(ROOT / "tests" / "interop" / "auth.test.mjs")],
            cwd=ROOT,
            env={**os.environ, "CL_AUTH_INTEROP": json.dumps(env)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        with live_server.app.app_context():
            limiter.reset()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 8" in result.stdout and "# fail 0" in result.stdout, result.stdout
