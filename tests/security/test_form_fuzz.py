"""Fuzz every HTML form with hypothesis (security.md S12 and R1): 0 server errors; a refused submission names the
field at fault and writes nothing; the browser's session survives.

`ROUTES` is the table: one row per view that validates a form (endpoint, persona, URL arguments, the form class and
the fields the view reads besides it). Field names come from the form classes, so a field added later is fuzzed at
once, and `test_every_form_class_is_fuzzed` fails when a form class or a form-taking POST route has no row.

Each example runs inside a savepoint that is rolled back afterwards, and the browser's cookies are put back, so
examples are independent (hypothesis can shrink) and an accepted submission (a changed password, a deleted
customer) does not leak into the next one. `PORTAL_FUZZ_EXAMPLES` raises the count for a longer local run.
"""

from __future__ import annotations

import html
import inspect
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pyotp
import pytest
from flask import Flask, url_for
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, EmailField, IntegerField, PasswordField
from wtforms.fields.choices import SelectFieldBase

from portal import db
from portal.admin import forms as admin_forms
from portal.extensions import limiter
from portal.models import LoginSession
from portal.services import customers, deletion_requests, groups, password_resets, staff
from portal.services.audit import SYSTEM
from portal.shop import forms as shop_forms
from tests.factories import PASSWORD, make_user
from tests.security.conftest import (
    admin_login,
    changed_tables,
    csrf_from,
    fingerprint,
    new_client,
    shop_login,
)

EXAMPLES = int(os.environ.get("PORTAL_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),  # no explain phase: its line tracing is slow
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FORM_MODULES = (shop_forms, admin_forms)
ACCEPTED = {200, 201, 204, 302, 303}

# --- values -----------------------------------------------------------------------------------------------------

# fmt: off
NASTY = [
    "", " ", "   ", "\t", "\n", "\r\n", "\x00", "a\x00b", "\x07\x1b[31m", "\u202eevil\u202c", "\ufeff", "\u200b",
    "שלום עולם", "مرحبا", "😀" * 20, "👩‍👩‍👧‍👦", "Zalgo z̷̢̛a̶l̸g̵o", "ß", "İ", "ﬀ",
    "' OR '1'='1", "'; DROP TABLE customers; --", '" onmouseover="x', "<script>alert(1)</script>",
    "</textarea><svg onload=alert(1)>", "{{7*7}}", "${7*7}", "%s%n%x", "../../etc/passwd", "\\", "%00",
    "0", "-1", "1e309", "NaN", "Infinity", "0x10", "9" * 40, "1.5", "+33 1 23 45 67 89", "True", "None", "null",
    "a@b", "a@b.c", " shopper@example.com ", "UPPER@EXAMPLE.COM", "a b@example.com", "ü@bücher.de",
    "x@" + "a" * 250 + ".com", "@", "a@@b.com", "#1f4fd1", "#zzzzzz", "https://shop.example.com",
    "javascript:alert(1)", "http://127.0.0.1:1", "{}", "[]", '{"a": 1}', '{"a": "\\u0000"}', "{", "GB", "gb", "G1",
]
# fmt: on
WHITESPACE = st.text(st.sampled_from(" \t\u00a0\u3000"), max_size=3)
SHORT = st.text(max_size=40)  # any code point but surrogates: controls, RTL, emoji, combining marks
TEXT = st.one_of(
    st.sampled_from(NASTY),
    SHORT,
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn"]), max_size=20),
    st.tuples(WHITESPACE, SHORT, WHITESPACE).map("".join),
    st.tuples(SHORT.filter(bool), st.integers(10, 5000)).map(lambda p: (p[0] * p[1])[:5000]),
    st.integers().map(str),
    st.floats().map(str),
    st.emails(),
)


def plausible(name: str, unbound, ctx) -> st.SearchStrategy[str]:
    """Values that pass the form's own checks, so the services behind it are fuzzed too."""
    if isinstance(unbound, SelectFieldBase):
        values = [c.value if hasattr(c, "value") else c[0] for c in (unbound.choices or [])]
        return st.sampled_from(values or ctx.group_choices)
    if isinstance(unbound, BooleanField):
        return st.sampled_from(["y", "on", "", "false"])
    if isinstance(unbound, IntegerField):
        return st.integers(-(10**12), 10**12).map(str)
    if isinstance(unbound, PasswordField):
        return st.sampled_from([PASSWORD, "Tr0ub4dor&3 staple", "short"])
    if isinstance(unbound, EmailField) or "email" in name:
        return st.one_of(st.emails(), st.sampled_from(ctx.emails))
    if name == "metadata_json":
        leaf = st.one_of(st.none(), st.booleans(), st.integers(), SHORT)
        return st.dictionaries(SHORT, leaf, max_size=4).map(json.dumps)
    if name in ("country_code", "code"):
        return st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabc_-", min_size=1, max_size=8)
    if name == "primary_color":
        return st.text("0123456789abcdefABCDEFxyz", min_size=6, max_size=6).map("#".__add__)
    if name in ("logo_url", "allowed_origins"):
        return st.sampled_from(["https://cdn.example.com/logo.png", "https://shop.example.com\nhttp://x", ""])
    return SHORT


def occurrences(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """Once (mostly), missing, or repeated (a multi-dict)."""
    return st.one_of(
        st.lists(values, min_size=1, max_size=1), st.just([]), st.lists(values, min_size=2, max_size=3)
    )


# --- the table --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    endpoint: str
    form: type[FlaskForm]
    persona: str  # anonymous | shopper | admin | admin_2fa (between password and code) | invitee | code_asker
    prefix: str | None = None  # the ids key whose value prefixes the form's field names
    extra: tuple[str, ...] = ()  # request fields the view reads besides the form class's
    fragments: bool = False  # the view answers htmx with a block of its page: fuzzed both ways
    ends_session: bool = False  # accepting it signs this browser out
    setup: Callable | None = None  # runs once before the examples, with the context
    obj: Callable | None = None  # the record an edit form starts from (missing fields keep its values)
    aliases: tuple[
        tuple[str, str], ...
    ] = ()  # URL argument → the ids key holding its value, when they differ
    examples: tuple = ()  # regressions, always run: ((("field", "value"), ...), htmx)

    def __str__(self) -> str:
        return self.endpoint


def _pending_deletion(ctx) -> None:
    deletion_requests.create(SYSTEM, ctx.world.org, ctx.world.shopper)


def _customer(ctx):
    return customers.get_customer(ctx.world.org, ctx.ids["customer_id"])


def _group(ctx):
    return groups.get_group(ctx.world.org, ctx.ids["group_id"])


STAFF_PASSKEY = (("passkey_id", "staff_passkey_id"),)  # the admin's own passkey, not the shopper's
ROUTES = [
    # shop, signed out
    Route("shop.login", shop_forms.LoginForm, "anonymous"),
    Route("shop.signup", shop_forms.SignupForm, "anonymous"),
    Route("shop.password_forgot", shop_forms.ForgotPasswordForm, "anonymous"),
    Route(
        "shop.password_reset", shop_forms.ResetPasswordForm, "anonymous", aliases=(("token", "reset_token"),)
    ),
    Route("shop.verify_email", shop_forms.ActionForm, "anonymous"),
    Route("shop.code_request", shop_forms.CodeRequestForm, "anonymous"),
    Route("shop.code_sign_in", shop_forms.CodeSignInForm, "code_asker"),
    Route("shop.confirm_email", shop_forms.ActionForm, "anonymous"),
    # shop, signed in
    Route("shop.logout", shop_forms.ActionForm, "shopper", ends_session=True),
    Route("shop.language", shop_forms.ActionForm, "anonymous", extra=("locale", "next")),
    Route("shop.profile", shop_forms.ChangeEmailForm, "shopper"),
    Route("shop.profile_verify", shop_forms.ActionForm, "shopper"),
    Route("shop.password", shop_forms.ChangePasswordForm, "shopper"),
    Route("shop.session_end", shop_forms.ActionForm, "shopper"),
    Route("shop.sign_out_everywhere", shop_forms.ActionForm, "shopper", ends_session=True),
    Route("shop.addresses_create", shop_forms.AddressForm, "shopper", fragments=True),
    Route("shop.addresses_update", shop_forms.AddressForm, "shopper", fragments=True),
    Route("shop.addresses_delete", shop_forms.ActionForm, "shopper"),
    Route("shop.privacy_deletion_request", shop_forms.ActionForm, "shopper", fragments=True),
    Route("shop.privacy_newsletter", shop_forms.NewsletterForm, "shopper", fragments=True),
    Route("shop.privacy_deletion_withdraw", shop_forms.ActionForm, "shopper", setup=_pending_deletion),
    Route("shop.passkey_rename", shop_forms.PasskeyNameForm, "shopper"),
    Route("shop.passkey_remove", shop_forms.ActionForm, "shopper"),
    # admin, signing in
    Route("admin.login", admin_forms.LoginForm, "anonymous", extra=("next",), fragments=True),
    Route("admin.login_code", admin_forms.CodeForm, "admin_2fa", extra=("next",), fragments=True),
    Route(
        "admin.invite_accept", admin_forms.AcceptInviteForm, "invitee", aliases=(("token", "invite_token"),)
    ),
    # admin, signed in
    Route("admin.totp_setup", admin_forms.CodeForm, "admin"),
    Route("admin.passkey_rename", admin_forms.PasskeyNameForm, "admin", aliases=STAFF_PASSKEY),
    Route("admin.passkey_remove", admin_forms.ConfirmForm, "admin", aliases=STAFF_PASSKEY),
    Route("admin.recovery_codes_renew", admin_forms.ConfirmForm, "admin"),
    Route("admin.reauth", admin_forms.PasswordConfirmForm, "admin", extra=("next",)),
    Route("admin.customers_bulk", admin_forms.BulkAssignForm, "admin", extra=("back_q",)),
    Route("admin.customers_bulk_tag", admin_forms.BulkTagForm, "admin", extra=("back_q",)),
    Route("admin.customer_tag_add", admin_forms.TagForm, "admin", fragments=True),
    Route("admin.customer_tag_remove", admin_forms.ConfirmForm, "admin"),
    Route("admin.customer_note_add", admin_forms.NoteForm, "admin", fragments=True),
    Route("admin.customer_note_delete", admin_forms.ConfirmForm, "admin"),
    Route("admin.webhook_create", admin_forms.WebhookForm, "admin"),
    Route("admin.webhook_update", admin_forms.ConfirmForm, "admin", extra=("action",)),
    Route("admin.webhook_delete", admin_forms.ConfirmForm, "admin"),
    Route(
        "admin.customer_edit",
        admin_forms.CustomerForm,
        "admin",
        fragments=True,
        obj=_customer,
        examples=(((("metadata_json", " "),), False),),  # was a 500: blank metadata skipped the JSON check
    ),
    Route("admin.customer_group", admin_forms.AssignGroupForm, "admin", fragments=True),
    Route("admin.customer_password_reset", admin_forms.ConfirmForm, "admin"),
    Route("admin.customer_delete", admin_forms.ConfirmForm, "admin"),
    Route(
        "admin.customer_anonymize",
        admin_forms.ConfirmForm,
        "admin",
        extra=("action",),
        examples=(((("action", "remove"),), False),),  # was a 422 without a word: an unknown action
    ),
    Route("admin.group_create", admin_forms.GroupForm, "admin", fragments=True),
    Route("admin.group_edit", admin_forms.GroupForm, "admin", fragments=True, obj=_group),
    Route("admin.group_delete", admin_forms.ConfirmForm, "admin"),
    Route(
        "admin.market_update",
        admin_forms.MarketGroupForm,
        "admin",
        prefix="market_id",
        examples=(((), False),),  # the refused select was not marked (no error id, no aria-invalid)
    ),
    Route("admin.settings_update", admin_forms.SettingsForm, "admin"),
    Route("admin.member_invite", admin_forms.InviteForm, "admin"),
    Route(
        "admin.member_update",
        admin_forms.RoleForm,
        "admin",
        prefix="user_id",
        extra=("action",),
        examples=(((("action", "role"),), False),),  # was a 422 without a word: the role error was not shown
    ),
    Route("admin.application_create", admin_forms.ApplicationForm, "admin"),
    Route("admin.application_update", admin_forms.ConfirmForm, "admin", extra=("action",)),
    Route("admin.application_redirect_uris", admin_forms.RedirectUrisForm, "admin"),
    Route("admin.credentials_issue", admin_forms.ConfirmForm, "admin"),
    Route("admin.grant_revoke", admin_forms.ConfirmForm, "admin"),
    Route("admin.deletion_approve", admin_forms.ConfirmForm, "admin"),
    Route("admin.deletion_reject", admin_forms.RejectForm, "admin", prefix="request_id"),
]
# POST routes that take no form: logout is a bare CSRF-checked POST; the hand-off is authenticated by its token;
# the passkey ceremonies are JSON for static/js/passkeys.js (tests/shop/test_passkeys.py, tests/admin/test_passkeys.py).
NO_FORM = {
    "admin.logout",
    "shop.handoff",
    "shop.passkey_sign_in_options",
    "shop.passkey_sign_in",
    "shop.passkey_options",
    "shop.passkey_create",
    "admin.passkey_sign_in_options",
    "admin.passkey_sign_in",
    "admin.passkey_options",
    "admin.passkey_create",
}
EXTRA_VALUES = {
    "action": st.one_of(st.sampled_from(["request", "cancel", "remove", "role", "revoke", "rotate"]), TEXT),
    "next": st.one_of(
        st.sampled_from(["/admin/", "//evil.example", "/admin/../x", "https://evil.example"]), TEXT
    ),
    "back_q": TEXT,
    "locale": st.one_of(st.sampled_from(["en", "it", "xx", "IT"]), TEXT),
}


def test_every_form_class_is_fuzzed(app: Flask):
    classes = {
        cls
        for module in FORM_MODULES
        for _name, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, FlaskForm) and cls is not FlaskForm and cls.__module__ == module.__name__
    }
    assert classes - {row.form for row in ROUTES} == set()
    html_posts = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and rule.endpoint.split(".")[0] in ("shop", "admin")
    }
    assert html_posts - {row.endpoint for row in ROUTES} == NO_FORM
    assert not {row.endpoint for row in ROUTES} - html_posts, "a row names a route that does not exist"


# --- one browser per persona, one savepoint per example ---------------------------------------------------------


@pytest.fixture()
def fuzz_context(app: Flask, world, anonymous):
    """The ids the table's URLs take (real tokens and a second session of the shopper's included)."""
    org = world.org
    _reset, reset_token = password_resets.request_reset(SYSTEM, org, world.shopper.email)
    _invitee, invite_token = staff.invite(SYSTEM, org, "invitee@example.com", "read_only")
    second = new_client(app)
    assert shop_login(second, org.slug, world.shopper.email).status_code == 303
    other_session = db.session.scalars(select(LoginSession).order_by(LoginSession.id.desc())).first()
    ids = dict(
        world.ids, reset_token=reset_token, invite_token=invite_token, session_id=str(other_session.id)
    )
    return SimpleNamespace(
        app=app,
        world=world,
        ids=ids,
        emails=[world.shopper.email, world.admin.email, "invitee@example.com", "new.person@example.com"],
        group_choices=["", world.ids["group_id"]],
    )


def _browser(ctx, persona: str):
    """A browser signed in as `persona`, its CSRF token, and the page that proves its session is still good."""
    app, world, slug = ctx.app, ctx.world, ctx.world.org.slug
    client = new_client(app)
    if persona == "shopper":
        assert shop_login(client, slug, world.shopper.email).status_code == 303
        home = f"/{slug}/account/"
    elif persona == "admin":
        assert admin_login(client, world.admin.email).status_code == 303
        home = "/admin/"
    elif persona == "admin_2fa":
        user = make_user(world.org, "admin")
        secret = pyotp.random_base32()
        staff.enable_totp(SYSTEM, user, secret, pyotp.TOTP(secret).now())
        response = admin_login(client, user.email)
        assert response.status_code == 303 and "/admin/login/code" in response.location
        home = "/admin/login/code"
    elif persona == "invitee":
        home = f"/admin/invite/{ctx.ids['invite_token']}"
    elif persona == "code_asker":  # asked for an emailed sign-in code: the code page is next
        ask = f"/{slug}/account/login/code"
        form = {"email": world.shopper.email, "csrf_token": csrf_from(client.get(ask).text)}
        assert client.post(ask, data=form).status_code == 303
        home = f"/{slug}/account/login/code/enter"
    else:
        home = f"/{slug}/account/login"
    page = client.get(home)
    assert page.status_code == 200, (persona, page.status_code)
    return client, csrf_from(page.text), home


def _url(ctx, row: Route) -> str:
    """The row's URL, every argument a real id of the test's world (or a real token)."""
    (rule,) = ctx.app.url_map.iter_rules(row.endpoint)
    aliases = dict(row.aliases)
    with ctx.app.test_request_context():
        return url_for(row.endpoint, **{name: ctx.ids[aliases.get(name, name)] for name in rule.arguments})


def _fields(ctx, row: Route) -> list[tuple[str, object]]:
    """(submitted name, bound field) for each field of the row's form class, CSRF aside."""
    with ctx.app.test_request_context():
        form = row.form(formdata=None, meta={"csrf": False}, prefix=ctx.ids[row.prefix] if row.prefix else "")
        return [(bound.name, bound) for bound in form]


def body_strategy(ctx, row: Route) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    """The submitted multi-dict, as (name, value) pairs: every field once, missing or repeated, plus a stranger."""
    parts = [
        occurrences(st.one_of(TEXT, plausible(bound.short_name, bound, ctx))).map(
            lambda values, name=name: [(name, v) for v in values]
        )
        for name, bound in _fields(ctx, row)
    ]
    parts += [
        occurrences(EXTRA_VALUES[name]).map(lambda values, name=name: [(name, v) for v in values])
        for name in row.extra
    ]
    stranger = st.lists(st.tuples(st.text(min_size=1, max_size=20), TEXT), max_size=1)
    return st.tuples(*parts, stranger).map(lambda groups: tuple(pair for group in groups for pair in group))


def expected_errors(ctx, row: Route, body: MultiDict) -> list[object]:
    """The fields WTForms itself refuses for this body (with the choices the views give dynamic selects)."""
    with ctx.app.test_request_context(method="POST"):
        form = row.form(
            formdata=body,
            obj=row.obj(ctx) if row.obj else None,
            meta={"csrf": False},
            prefix=ctx.ids[row.prefix] if row.prefix else "",
        )
        for bound in form:
            if isinstance(bound, SelectFieldBase) and not bound.choices:
                bound.choices = [
                    (v, v)
                    for v in (
                        body.getlist(bound.name) if bound.type == "SelectMultipleField" else ctx.group_choices
                    )
                ]
        form.validate()
        return [bound for bound in form if bound.errors]


FIELD_ERROR = re.compile(r'<p class="field-error"(?: id="([^"]+)-error")?>(.+?)</p>', re.S)
ALERT = re.compile(r'class="(?:flash flash-error|toast toast-error)"[^>]*>(.+?)</(?:div|p)>', re.S)


def named(bound, page: str) -> bool:
    """The page points at the field: its inline error, an invalid-marked input, or an alert saying its label."""
    if f'id="{bound.id}-error"' in page:
        return True
    if re.search(rf'<[^>]*aria-invalid="true"[^>]*name="{re.escape(bound.name)}"', page):
        return True
    label = bound.label.text.lower().rstrip("s")
    return any(label in html.unescape(text).lower() for text in ALERT.findall(page))


def check_one(ctx, row: Route, browser, baseline: dict, pairs, headers: dict) -> None:
    client, token, home, url = browser
    csrf_name = f"{ctx.ids[row.prefix]}-csrf_token" if row.prefix else "csrf_token"
    body = MultiDict([*pairs, (csrf_name, token)])
    refused_fields = expected_errors(ctx, row, body)
    response = client.post(url, data=body, headers=headers)
    status, page = response.status_code, response.get_data(as_text=True)
    assert status < 500, (status, page[:2000])
    has_error = bool(FIELD_ERROR.search(page) or ALERT.search(page))
    refused = status >= 400 or has_error
    if refused_fields:
        assert refused, f"accepted ({status}) though WTForms refuses {[f.name for f in refused_fields]}"
    if refused:
        assert changed_tables(baseline, fingerprint()) == [], "a refused submission wrote something"
        assert status in (400, 404, 409, 422, 423) or (status == 200 and has_error), status
        if status == 422:
            assert has_error, "422 without an error message on the page"
            missing = [f.name for f in refused_fields if not named(f, page)]
            assert not missing, f"refused fields not named on the page: {missing}"
    else:
        assert status in ACCEPTED, status
    if refused or (row.persona in ("shopper", "admin", "admin_2fa") and not row.ends_session):
        assert client.get(home).status_code == 200, "the browser's session did not survive"


@pytest.mark.parametrize("row", ROUTES, ids=str)
def test_form_fuzz(fuzz_context, row: Route):
    ctx = fuzz_context
    if row.setup:
        row.setup(ctx)
    client, token, home = _browser(ctx, row.persona)
    url = _url(ctx, row)
    connection = ctx.app.extensions["db_bind"]
    # Every example starts from this state (each is rolled back), so "nothing written" compares with it.
    baseline = fingerprint()
    db.session.commit()  # release the test session's savepoint: each example opens its own below it

    def run(pairs, hx):
        cookies = dict(client._cookies)
        savepoint = connection.begin_nested()
        limiter.reset()  # the limiter's storage also holds the credential throttle's counters
        try:
            check_one(
                ctx, row, (client, token, home, url), baseline, pairs, {"HX-Request": "true"} if hx else {}
            )
        finally:
            db.session.rollback()
            savepoint.rollback()
            db.session.expire_all()
            client._cookies.clear()
            client._cookies.update(cookies)

    # A view that answers htmx with a block of its page is fuzzed both ways (plain form post and htmx swap).
    test = given(pairs=body_strategy(ctx, row), hx=st.booleans() if row.fragments else st.just(False))(run)
    for pairs, hx in row.examples:
        test = example(pairs=pairs, hx=hx)(test)
    FUZZ(test)()
