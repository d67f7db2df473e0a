"""Factories built on the services, so test data obeys the same rules as real data."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from portal import db
from portal.models import Customer, CustomerGroup, Market, Order, Organization, User
from portal.models.staff import ApplicationKind
from portal.services import customers, groups, orders, orgs
from portal.services.audit import SYSTEM

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def make_org(slug: str | None = None, *, with_market: bool = True) -> Organization:
    org = orgs.create_org(SYSTEM, slug=slug or unique("org"), name="Test Org")
    if with_market:
        orgs.create_market(SYSTEM, org, name="Main", code="main")
    return org


def make_market(org: Organization, code: str | None = None, *, group: CustomerGroup | None = None) -> Market:
    market = orgs.create_market(SYSTEM, org, name="Market", code=code or unique("m"))
    if group is not None:
        groups.set_market_group(SYSTEM, org, market, group)
    return market


def make_group(org: Organization, name: str = "Group", code: str | None = None) -> CustomerGroup:
    return groups.create_group(SYSTEM, org, {"name": name, "code": code or unique("g")})


def make_customer(
    org: Organization,
    email: str | None = None,
    *,
    password: str | None = None,
    group: CustomerGroup | None = None,
    **attributes: Any,
) -> Customer:
    attributes = {"email": email or f"{unique('shopper')}@example.com", **attributes}
    if password is not None:
        attributes["password"] = password
    return customers.create_customer(SYSTEM, org, attributes, customer_group=group)


def make_order(
    org: Organization,
    customer: Customer | None,
    *,
    placed: bool = True,
    market: Market | None = None,
    **attributes: Any,
) -> Order:
    market = market or db.session.scalars(select(Market).where(Market.organization_id == org.id)).first()
    order = orders.create_order(
        SYSTEM,
        org,
        market,
        {"currency_code": "EUR", "total_amount_cents": 1000, **attributes},
        customer=customer,
    )
    if placed:
        orders.place_order(SYSTEM, org, order)
    return order


def make_user(
    org: Organization | None = None,
    role: str = "admin",
    *,
    email: str | None = None,
    password: str = PASSWORD,
) -> User:
    user = orgs.create_user(
        SYSTEM,
        email=email or f"{unique('staff')}@example.com",
        password=password,
        first_name="Sam",
        last_name="Staff",
    )
    if org is not None:
        orgs.set_membership(SYSTEM, org, user, role)
    return user


def make_application(
    org: Organization | None, kind: str = "integration", role: str = "admin", user: User | None = None
):
    return orgs.create_application(
        SYSTEM, org, name=unique("app"), kind=ApplicationKind(kind), role=role, user=user
    )


def token_for(application, owner=None, *, markets=None, scope: str = "", refresh: bool = False) -> str:
    """An access token issued directly (the grants are tested in tests/oauth); returns the JWT."""
    from portal.security import tokens

    return tokens.issue(application, owner=owner, markets=markets, scope=scope, refresh=refresh)[
        "access_token"
    ]
