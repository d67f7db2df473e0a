"""Host-header poisoning: every emailed and absolute link is built on PORTAL_BASE_URL, never on the request's Host;
production refuses hosts it does not serve (issue 12 item 1)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from portal import ROOT, create_app, db
from portal.jobs import mailer
from portal.models import Customer
from portal.services import accounts, password_resets, staff
from portal.services.audit import SYSTEM
from portal.web import external_url
from tests.factories import PASSWORD, make_customer, make_org, make_user
from tests.shop.conftest import post_form

BASE = "https://portal.example.test"
ATTACKER = "http://attacker.example"
URL = re.compile(r"""https?://[^\s"'<>]+""")


@pytest.fixture()
def base_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", BASE)
    return BASE


def _links(message) -> list[str]:
    parts = [
        p.get_payload(decode=True).decode() for p in message.walk() if p.get_content_maintype() == "text"
    ]
    return [url for part in parts for url in URL.findall(part)]


def test_forgot_password_with_a_forged_host_mails_a_link_on_the_base_url(client, base_url, smtp, app):
    org = make_org()
    shopper = make_customer(org, password=PASSWORD)
    client.environ_base["HTTP_HOST"] = "attacker.example"
    response = post_form(client, f"/{org.slug}/account/password/forgot", {"email": shopper.email})
    assert response.status_code == 303
    mailer.deliver_due(app)
    links = _links(smtp.to(shopper.email)[0])
    assert links and all(link.startswith(f"{BASE}/{org.slug}/account/password/reset/") for link in links), (
        links
    )
    assert not any("attacker" in link for link in links)


def _mail_every_template(app, org, shopper, user, second) -> None:
    accounts.sign_up(org, "new-person@example.com", "a good long secret")  # verify_email
    accounts.sign_up(org, shopper.email, "a good long secret")  # account_exists
    accounts.request_email_change(org, shopper, "moved@example.com", PASSWORD)  # change_email + notice
    accounts.change_password(org, shopper, PASSWORD, "another good secret")  # password_changed
    password_resets.send_reset_link(SYSTEM, org, shopper.email)  # password_reset
    accounts.resend_verification(org, second)  # verify_address (second's email is not verified yet)
    own = db.session.get(Customer, second.id)  # in this session (a forged-host request has its own)
    accounts.update_own(org, own, {"email": "own-token@example.com", "_current_password": PASSWORD})
    # ^ email_changed to the old address, confirm_address to the new one
    staff.send_invite(org, user, "tok", external_url("admin.invite_accept", token="tok"))  # admin_invite


def _templates_with_links() -> set[str]:
    folder = Path(ROOT) / "templates" / "mail"
    return {
        path.name.split(".")[0]
        for path in folder.glob("*")
        if not path.name.startswith("_") and re.search(r"external_url|\{\{ link", path.read_text())
    }


@pytest.mark.parametrize("inside_request", [True, False], ids=["forged-host-request", "worker-no-request"])
def test_every_mail_template_links_to_the_base_url(app, db_session, base_url, smtp, inside_request):
    org = make_org()
    shopper = make_customer(org, password=PASSWORD)
    user = make_user(org)
    second = make_customer(org, "second@example.com", password=PASSWORD)
    if inside_request:
        with app.test_request_context("/", base_url=ATTACKER, method="POST"):
            _mail_every_template(app, org, shopper, user, second)
            db.session.commit()  # the request's own session (the test's transaction keeps it)
    else:
        _mail_every_template(app, org, shopper, user, second)
    mailer.deliver_due(app)
    topics = {m["Subject"]: _links(m) for m in smtp.messages}
    assert len(smtp.messages) == 10
    assert [subject for subject, links in topics.items() if not links] == [
        "The email of your Test Org account was changed"  # a notice to the old address: nothing to follow
    ]
    for subject, links in topics.items():
        assert all(link.startswith(f"{BASE}/") for link in links), (subject, links)


def test_the_link_check_above_covers_every_template_that_has_a_link():
    covered = {"verify_email", "account_exists", "change_email", "email_change_notice", "password_changed"}
    covered |= {"password_reset", "admin_invite", "confirm_address", "verify_address"}
    assert _templates_with_links() <= covered


def test_no_code_builds_an_external_url_from_the_request():
    sources = [*Path(ROOT, "portal").rglob("*.py"), *Path(ROOT, "templates").rglob("*.*")]
    offenders = [
        str(p) for p in sources if re.search(r"(?<!force)_external=True|url_root|host_url", p.read_text())
    ]
    assert offenders == []


def test_api_links_and_openapi_servers_use_the_base_url(client, base_url):
    client.environ_base["HTTP_HOST"] = "attacker.example"
    document = client.get("/api/openapi.json").json
    assert document["servers"] == [{"url": BASE}]


def _production(tmp_path, **overrides):
    config = {
        "ENV_MODE": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "SECRET_KEY": secrets.token_hex(32),
        "SESSION_COOKIE_SECURE": True,
        "JWT_KEYS_PATH": str(tmp_path / "jwt-keys.json"),
        **overrides,
    }
    return create_app(config)


@pytest.mark.parametrize("value", [None, "", "http://portal.example.test", "https://", "https://x.test/?a=1"])
def test_production_refuses_to_start_without_an_https_base_url(tmp_path, value):
    with pytest.raises(RuntimeError, match="PORTAL_BASE_URL"):
        _production(tmp_path, BASE_URL=value)


def test_production_refuses_unknown_hosts(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_TRUSTED_HOSTS", "Portal-Internal.example.test")
    app = _production(tmp_path, BASE_URL=BASE)
    client = app.test_client()
    refused = client.get("/health", headers={"Host": "attacker.example"})
    assert refused.status_code == 400
    for host in ("portal.example.test", "portal-internal.example.test", "PORTAL.Example.test"):
        assert client.get("/health", headers={"Host": host}, base_url=f"https://{host}").status_code == 200


def test_development_defaults_to_the_local_base_url(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["BASE_URL"] == "http://127.0.0.1:5000"
    assert "TRUSTED_HOSTS" not in app.config or not app.config["TRUSTED_HOSTS"]
