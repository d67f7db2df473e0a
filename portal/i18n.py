"""Languages and humane formatting for pages and emails.

The shopper area speaks English and Italian: the signed-in customer's stored preference wins, then the choice a
visitor made with the switcher (kept in the session until they sign in), then the browser's `Accept-Language`; the
hosted sign-in's pages at /oauth/authorize follow the same order. The admin area and the API stay in English (their
catalogue is English-only for now). Dates, money and relative times go through Babel so they follow the page's
language; user agents are shown as "Chrome on macOS".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import get_date_format, get_time_format
from flask import Flask, g, has_app_context, has_request_context, request, session
from flask_babel import (
    force_locale,
    format_currency,
    format_timedelta,
    get_locale,
    get_translations,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from ua_parser import parse

from portal import db

LOCALES = ("en", "it")
NAMES = {"en": "English", "it": "Italiano"}  # each language in its own words, as switchers show them
SESSION_KEY = "locale"
# Shopper-facing pages outside the shop blueprint: the hosted sign-in's consent, sign-out and error pages.
SHOPPER_ENDPOINTS = frozenset({"oauth.authorize", "oauth.logout"})
OS_NAMES = {"Mac OS X": "macOS"}
# Column names as people say them (audit log, timeline, the shopper's account changes).
FIELD_LABELS = {
    "email": _l("Email"),
    "email_verified_at": _l("Email verified"),
    "password_hash": _l("Password"),
    "customer_group_id": _l("Customer group"),
    "status": _l("Status"),
    "anonymization_status": _l("Anonymization"),
    "total_orders_count": _l("Order count"),
    "tax_exemption_code": _l("Tax exemption code"),
    "shopper_reference": _l("Shopper reference"),
    "profile_id": _l("Profile id"),
    "reference": _l("Reference"),
    "reference_origin": _l("Reference origin"),
    "metadata": _l("Metadata"),
    "locale": _l("Language"),
    "password": _l("Password"),
    "passkeys": _l("Passkeys"),
    "tags": _l("Tags"),
    "customer_subscriptions": _l("Subscriptions"),
    "attachments": _l("Notes"),
}
# Audit actions as people say them (the shopper's account changes, the admin timeline and audit log).
ACTION_LABELS = {
    "customer.create": _l("Account created"),
    "customer.sign_up": _l("Email verified, password set"),
    "customer.update": _l("Profile updated"),
    "customer.password_change": _l("Password changed"),
    "customer.email_change_request": _l("Email change requested"),
    "customer.email_verify": _l("Email verified with a sign-in code"),
    "customer.group_change": _l("Customer group changed"),
    "customer.status_change": _l("Status changed"),
    "customer.subscribe": _l("Newsletter subscribed"),
    "customer.unsubscribe": _l("Newsletter unsubscribed"),
    "customer.tags_change": _l("Tags changed"),
    "customer.attachment_create": _l("Note added"),
    "customer.attachment_destroy": _l("Note deleted"),
    "customer.passkey_create": _l("Passkey added"),
    "customer.passkey_update": _l("Passkey renamed"),
    "customer.passkey_destroy": _l("Passkey removed"),
    "customer_address.create": _l("Address added"),
    "address.create": _l("Address added"),
    "customer_address.update": _l("Address changed"),
    "address.update": _l("Address changed"),
    "customer_address.destroy": _l("Address removed"),
    "address.destroy": _l("Address removed"),
    "customer.verification_request": _l("Verification email sent"),
    "customer.anonymization_request": _l("Anonymization requested"),
    "customer.anonymization_cancel": _l("Anonymization cancelled"),
    "customer.anonymization_started": _l("Anonymization started"),
    "customer.anonymization_completed": _l("Anonymized"),
    "customer.anonymization_failed": _l("Anonymization failed"),
    "customer.destroy": _l("Account deleted"),
    "customer_password_reset.create": _l("Password reset requested"),
    "customer_password_reset.update": _l("Password reset used"),
    "customer_password_reset.destroy": _l("Password reset withdrawn"),
}


def action_label(action: str) -> str:
    """ "Password changed" for `customer.password_change`; an action without a label is shown as recorded."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def select_locale() -> str:
    """Flask-Babel's locale selector (see the module docstring for the order)."""
    if not has_request_context() or (
        request.blueprint != "shop" and request.endpoint not in SHOPPER_ENDPOINTS
    ):
        return "en"
    stored = getattr(current_user, "locale", None)
    if stored in LOCALES:
        return stored
    if session.get(SESSION_KEY) in LOCALES:
        return session[SESSION_KEY]
    return request.accept_languages.best_match(LOCALES) or "en"


def remember(locale: str, customer: object | None) -> None:
    """The switcher's choice: on the customer's record when signed in, in the session otherwise."""
    session[SESSION_KEY] = locale
    if customer is not None:
        customer.locale = locale  # type: ignore[attr-defined]


@lru_cache(maxsize=16)
def _date_time_patterns(locale: str) -> tuple[Any, Any, Locale]:
    """The language's medium date and short time patterns, parsed once (Babel looks them up on every call: a page
    of dates spent more time there than in its queries)."""
    parsed = Locale.parse(locale)
    return get_date_format("medium", parsed), get_time_format("short", parsed), parsed


def absolute(value: datetime) -> str:
    """ "2 Dec 2026, 13:47 UTC" / "2 dic 2026, 13:47 UTC": the date as the language writes it, the time in UTC."""
    date_pattern, time_pattern, locale = _date_time_patterns(str(get_locale()))
    utc = value.astimezone(UTC) if value.tzinfo else value
    return f"{date_pattern.apply(utc, locale)}, {time_pattern.apply(utc, locale)} UTC"


def when(value: datetime | None) -> Markup:
    """An absolute date and time in the page's language, machine-readable in `datetime`."""
    if value is None:
        return Markup("—")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), absolute(value))


def ago(value: datetime | None, now: datetime | None = None) -> Markup:
    """ "2 minutes ago" / "in 2 minutes" (translated), with the absolute time in `datetime` and `title`."""
    if value is None:
        return Markup("—")
    delta: timedelta = value - (now or db.utcnow())
    text = format_timedelta(delta, add_direction=True, threshold=1)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(value.isoformat(), absolute(value), text)


def money(cents: int, currency: str) -> str:
    """An amount in minor units as the page's language writes it ("€ 12,50" in Italian, "€12.50" in English)."""
    return format_currency(Decimal(cents) / 100, currency)


@lru_cache(maxsize=512)
def _device(user_agent: str) -> tuple[str | None, str | None]:
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent and result.user_agent.family != "Other" else None
    system = result.os.family if result.os and result.os.family != "Other" else None
    return browser, OS_NAMES.get(system or "", system)


def device(user_agent: str | None) -> str:
    """ "Chrome on macOS" from a user-agent header; "Unknown browser" when it says nothing recognisable."""
    browser, system = _device(user_agent or "")
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown browser")


def field_labels(names: list[str] | tuple[str, ...]) -> str:
    """ "Email verified, Customer group" for ["email_verified_at", "customer_group_id"]; unknown columns are spelt
    out from their name rather than shown raw."""
    return ", ".join(
        str(FIELD_LABELS.get(name) or name.removesuffix("_id").replace("_", " ").capitalize())
        for name in names
    )


def duration(delta: timedelta) -> str:
    """ "2 minutes", "1 day": a delay as people say it (not "0:02:00")."""
    return format_timedelta(delta, threshold=1)


def translations() -> Any:
    """This request's catalogue, looked up once (a page has dozens of `_()`; Flask-Babel fixes a request's locale
    at its first lookup). `in_locale` renders in another language meanwhile."""
    if not has_app_context():
        return get_translations()
    cached = g.get("_translations")
    if cached is None:
        cached = g._translations = get_translations()
    return cached


@contextmanager
def in_locale(locale: str) -> Iterator[None]:
    """Flask-Babel's `force_locale` (an email in its recipient's language), with this module's catalogue kept apart."""
    saved = g.pop("_translations", None)
    try:
        with force_locale(locale):
            yield
    finally:
        g.pop("_translations", None)
        if saved is not None:
            g._translations = saved


def init_app(app: Flask) -> None:
    from portal import ROOT
    from portal.extensions import babel

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(ROOT / "translations"))
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel looks the catalogue up again for every {{ _() }} (domain, locale string, cache): a page has dozens.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(
        format_when=when,
        format_ago=ago,
        format_money=money,
        format_device=device,
        format_duration=duration,
        field_labels=field_labels,
        action_label=action_label,
        current_locale=lambda: str(get_locale()),
        language_names=NAMES,
    )
