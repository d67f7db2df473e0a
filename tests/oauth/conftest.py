"""Helpers for the authorization server tests: post a token request, count issued tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import OAuthToken
from portal.security.passwords import token_digest
from tests import factories

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def issued() -> int:
    return db.session.scalar(select(func.count()).select_from(OAuthToken))


@pytest.fixture()
def token(client) -> Callable:
    """POST /oauth/token as js-auth does (JSON), or as a form with `form=True`."""

    def post(form: bool = False, **body):
        if form:
            return client.post("/oauth/token", data=body)
        return client.post("/oauth/token", json=body, headers={"Accept": "application/json"})

    return post


@pytest.fixture()
def world(db_session):
    """One org with a public and a private market, a sales channel, an integration, staff and customers,
    and a second org to prove tenancy."""
    org = factories.make_org()
    vip = factories.make_group(org, "VIP", code="vip")
    private = factories.make_market(org, "vip", group=vip)
    sales, _ = factories.make_application(org, "sales_channel")
    integration, secret = factories.make_application(org, "integration")
    admin = factories.make_user(org, "admin")
    shopper = factories.make_customer(org, "shopper@example.com", password=factories.PASSWORD)
    member = factories.make_customer(org, "member@example.com", password=factories.PASSWORD, group=vip)
    other_org = factories.make_org()
    other_sales, _ = factories.make_application(other_org, "sales_channel")
    other_integration, other_secret = factories.make_application(other_org, "integration")
    # Sales channels are public; JWT-bearer customer logins need one with a secret.
    sso_secret = "sales-channel-sso-secret-0123456789"
    sso, _ = factories.make_application(org, "sales_channel")
    sso.secret_hash = token_digest(sso_secret)
    db.session.flush()

    class World:
        pass

    w = World()
    w.__dict__.update(locals())
    return w
