"""Staff sign-in: password, then a TOTP code (or a recovery code), the org switcher, re-authentication, invites."""

from __future__ import annotations

import time

import segno
from flask import abort, flash, g, request, session, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from portal.admin import bp
from portal.admin.forms import AcceptInviteForm, CodeForm, ConfirmForm, LoginForm, PasswordConfirmForm
from portal.admin.guard import recently_authenticated, requires, requires_staff
from portal.errors import DomainError
from portal.forms import show_error
from portal.models import User
from portal.models.staff import Role
from portal.security import sessions
from portal.security.routes import Policy, allow
from portal.services import staff
from portal.services.audit import Actor
from portal.web import form_status, next_path, render, see_other

PENDING_TTL = 300  # seconds between the password step and the code step


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as a QR code for the authenticator app's camera: an inline <svg> drawn on the server (no
    script, no image request, nothing the CSP must allow; its colours are SVG attributes, not inline styles)."""
    code = segno.make(uri, error="m")
    svg = code.svg_inline(scale=4, border=2, title="QR code of the setup URI", svgclass="qr", lineclass=None)
    # safe markup: segno draws the URI as path data only, never as text
    return Markup(svg)  # noqa: S704  # nosec B704


def _safe_next(default: str) -> str:
    return next_path(request.values.get("next"), "/admin/") or default


def start_session(user: User, *, passkey: bool = False) -> str:
    """Sign the user in and return where to go: the one org's dashboard, or the org switcher. A session started
    with a passkey is marked, so an org that requires two-factor accepts it (guard.requires)."""
    sessions.start(user, None)
    if passkey:
        session[sessions.PASSKEY_SESSION] = True
    staff.record_login(user)
    memberships = staff.memberships(user)
    if len(memberships) == 1:
        return _safe_next(url_for("admin.dashboard", org_slug=memberships[0].organization.slug))
    return _safe_next(url_for("admin.orgs"))


def _after_login(user: User):
    return see_other(start_session(user))


@bp.route("/login", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = staff.authenticate(form.email.data, form.password.data, request.remote_addr)
        if user is not None:
            if user.totp_enabled_at is None:
                return _after_login(user)
            session.clear()
            session["admin_pending"] = {"user": user.public_id, "at": time.time()}
            return see_other(url_for("admin.login_code", next=request.values.get("next")))
        form.form_errors.append(_("Wrong email or password, or too many attempts. Try again later."))
    status = form_status(form)
    return render("admin/auth/login.html", "login_form", status=status, form=form)


def _pending_user() -> User | None:
    pending = session.get("admin_pending") or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_TTL:
        return None
    return staff.get_user(pending.get("user") or "")


@bp.route("/login/code", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def login_code():
    user = _pending_user()
    if user is None or not user.is_active:
        return see_other(url_for("admin.login"))
    form = CodeForm()
    if form.validate_on_submit():
        if staff.verify_second_factor(user, form.code.data, request.remote_addr):
            return _after_login(user)
        form.code.errors.append("is not a valid code")
    status = form_status(form)
    return render("admin/auth/code.html", "code_form", status=status, form=form)


@bp.post("/logout")
@allow(Policy.PUBLIC)
def logout():
    sessions.end()
    return see_other(url_for("admin.login"))


@bp.get("/")
@requires_staff
def orgs():
    return render("admin/auth/orgs.html", memberships=staff.memberships(g.user), user=g.user)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@requires_staff
def totp_setup():
    """Enrolment: a fresh secret (as text and as an otpauth URI), confirmed by a code; recovery codes shown once."""
    user = g.user
    if user.totp_enabled_at is not None:
        return render("admin/auth/totp_done.html", user=user, codes=None)
    # The candidate secret lives in the (signed, HttpOnly) session until a code confirms it: a GET writes nothing.
    secret = session.get("totp_candidate") or staff.new_totp_secret()
    session["totp_candidate"] = secret
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = staff.enable_totp(Actor.of_user(user), user, secret, form.code.data)
        except DomainError as error:
            show_error(form, error)
        else:
            session.pop("totp_candidate", None)
            return render("admin/auth/totp_done.html", user=user, codes=codes)
    return render(
        "admin/auth/totp_setup.html",
        status=422 if request.method == "POST" else 200,
        form=form,
        secret=secret,
        uri=(uri := staff.provisioning_uri(user, secret)),
        qr=qr_svg(uri),
    )


@bp.post("/account/two-factor/recovery-codes")
@requires_staff
def recovery_codes_renew():
    """New recovery codes are a new way in: only with the password typed in the last minutes (like a passkey)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not recently_authenticated():
        flash(_("To get new recovery codes, sign out and sign in again first."), "error")
        return see_other("admin.account_security")
    try:
        codes = staff.regenerate_recovery_codes(Actor.of_user(g.user), g.user)
    except DomainError as error:
        flash(error.message, "error")
        return see_other("admin.account_security")
    return render("admin/auth/totp_done.html", user=g.user, codes=codes, renewed=True)


@bp.route("/<org_slug>/reauth", methods=["GET", "POST"])
@requires(Role.READ_ONLY)
def reauth():
    form = PasswordConfirmForm()
    if form.validate_on_submit():
        user = g.user
        if staff.authenticate(user.email, form.password.data, request.remote_addr) is user:
            staff.confirm_presence(sessions.current())
            return see_other(_safe_next(url_for("admin.dashboard", org_slug=g.org.slug)))
        form.password.errors.append("is not your password")
    status = form_status(form)
    return render("admin/auth/reauth.html", status=status, form=form, org=g.org, next=_safe_next(""))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def invite_accept(token: str):
    _row, user = staff.invite_for(token)
    form = AcceptInviteForm()
    if form.validate_on_submit():
        try:
            staff.accept_invite(
                token,
                password=form.password.data,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
            )
        except DomainError as error:
            show_error(form, error)
        else:
            return see_other(url_for("admin.login"))
    status = form_status(form)
    return render("admin/auth/invite.html", status=status, form=form, user=user)
