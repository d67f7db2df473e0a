"""Who may call each route: every view carries one policy, and the route list (tests/security/routes.txt) shows them.

The decorator guards record the policy they enforce (`requires(role)`, `require_token(...)`); every other view
declares it with `allow(...)`, and the shop's blueprint guard admits visitors without a session only to views declared
`PUBLIC`. A route without a policy fails tests/security/test_routes.py.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import NamedTuple

from flask import Flask


class Policy(enum.StrEnum):
    PUBLIC = "public"  # anyone, signed in or not
    SHOPPER = "shopper"  # the signed-in customer of the org in the URL
    STAFF = "staff"  # any signed-in staff user (no org in the URL)
    STAFF_MEMBER = "staff:member"  # a staff member of the org in the URL, either role
    STAFF_ADMIN = "staff:admin"  # a staff member of the org in the URL with the admin role
    BEARER = "bearer"  # any valid bearer token; the view applies per-kind rules
    BEARER_USER = "bearer:user"  # a bearer token issued to a staff user
    OPERATOR = "operator"  # the operator's PORTAL_METRICS_TOKEN as a bearer token (the view checks it)


def allow(policy: Policy) -> Callable[[Callable], Callable]:
    """Declare who may call a view (on a view without a decorator guard: those call it themselves)."""

    def decorator(view: Callable) -> Callable:
        view.route_policy = policy  # type: ignore[attr-defined]
        return view

    return decorator


def policy_of(view: Callable) -> Policy | None:
    return getattr(view, "route_policy", None)


class Route(NamedTuple):
    methods: str
    rule: str
    endpoint: str
    policy: Policy | None

    def __str__(self) -> str:
        return f"{self.methods} {self.rule} {self.endpoint} {self.policy or 'UNCLASSIFIED'}"


def routes(app: Flask) -> list[Route]:
    """Every URL rule of the app with its policy, sorted by rule then methods."""
    found = []
    for rule in app.url_map.iter_rules():
        methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        found.append(Route(methods, rule.rule, rule.endpoint, policy_of(app.view_functions[rule.endpoint])))
    return sorted(found, key=lambda route: (route.rule, route.methods))
