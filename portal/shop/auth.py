"""Signing up, in and out; email verification links; forgotten passwords; the storefront hand-off."""

from __future__ import annotations

from flask import flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal import db
from portal.errors import Invalid
from portal.extensions import csrf
from portal.forms import show_error
from portal.security import sessions
from portal.security.routes import Policy, allow
from portal.security.tokens import TokenError, verify
from portal.services import accounts, password_resets
from portal.services.audit import Actor
from portal.shop import _local_path, bp, customer
from portal.shop.forms import ActionForm, ForgotPasswordForm, LoginForm, ResetPasswordForm, SignupForm
from portal.web import form_status, render, see_other

ANONYMOUS = Actor("customer")
# Sign-up and password reset leave through an email: where the sign-in after them should lead (an authorization
# request of the hosted sign-in) waits in the session; a login signs in with a fresh session, which drops it.
NEXT_KEY = "after_sign_in"


def _remember_next(form) -> None:
    """Keep the detour form's `next` for the login after the email. Only a submitted form (same origin, CSRF token)
    may: a page merely opened, which any site can link to, must not aim the shopper's next sign-in."""
    target = _local_path(form.next.data)
    if target:
        session[NEXT_KEY] = target


def _status(form) -> int:
    return form_status(form)


@bp.route("/login", methods=["GET", "POST"])
@db.reads_only  # its GET: the form
@allow(Policy.PUBLIC)
def login() -> Response:
    if customer() is not None and request.method == "GET" and not request.args.get("market"):
        return redirect(url_for("shop.overview"))
    form = LoginForm(
        market=request.args.get("market", ""), next=request.args.get("next") or session.get(NEXT_KEY, "")
    )
    if form.validate_on_submit():
        found = accounts.authenticate(g.org, form.email.data, form.password.data, request.remote_addr)
        refusal = accounts.market_refusal(g.org, form.market.data, found) if found else None
        if found is None:
            form.form_errors.append(_("That email and password don't match an account."))
        elif refusal:
            form.form_errors.append(refusal)
        else:
            sessions.start(found, g.org)
            return see_other(_local_path(form.next.data) or url_for("shop.overview"))
    return render("shop/auth/login.html", status=form_status(form), form=form)


@bp.post("/logout")
@allow(Policy.SHOPPER)
def logout() -> Response:
    if ActionForm().validate_on_submit():
        sessions.end()
        flash(_("You are signed out."), "success")
    return see_other("shop.login")


@bp.route("/signup", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def signup() -> Response:
    form = SignupForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            accounts.sign_up(g.org, form.email.data, form.password.data)
        except Invalid as error:
            show_error(form, error)
        else:
            _remember_next(form)
            return see_other("shop.signup_sent")
    return render("shop/auth/signup.html", status=form_status(form), form=form)


@bp.get("/signup/sent")
@allow(Policy.PUBLIC)
def signup_sent() -> Response:
    return render("shop/auth/signup_sent.html")


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def verify_email(token: str) -> Response:
    """GET shows a button; only the POST uses the link (mail scanners prefetch links)."""
    form = ActionForm()
    if form.validate_on_submit():
        try:
            accounts.verify_sign_up(g.org, token)
        except Invalid as error:
            show_error(form, error)
        else:
            flash(_("Your email is verified. You can sign in now."), "success")
            return see_other("shop.login")
    return render("shop/auth/verify_email.html", status=form_status(form), form=form, token=token)


@bp.route("/confirm-email/<token>", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def confirm_email(token: str) -> Response:
    form = ActionForm()
    if form.validate_on_submit():
        try:
            accounts.confirm_email_change(g.org, token)
        except Invalid as error:
            show_error(form, error)
        else:
            flash(_("Your email address is confirmed."), "success")
            return see_other("shop.profile" if customer() else "shop.login")
    return render("shop/auth/confirm_email.html", status=form_status(form), form=form, token=token)


@bp.route("/password/forgot", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def password_forgot() -> Response:
    form = ForgotPasswordForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        password_resets.send_reset_link(ANONYMOUS, g.org, form.email.data)
        _remember_next(form)
        flash(
            _("If an account uses that address, we've emailed it a link to choose a new password."), "success"
        )
        return see_other("shop.password_forgot")
    return render("shop/auth/forgot.html", status=form_status(form), form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def password_reset(token: str) -> Response:
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            password_resets.complete_reset(ANONYMOUS, g.org, token, form.password.data)
        except Invalid as error:
            show_error(form, error)
        else:
            flash(_("Your password is changed and every session was signed out. Sign in again."), "success")
            return see_other("shop.login")
    return render("shop/auth/reset.html", status=form_status(form), form=form, token=token)


@bp.post("/handoff")
@allow(Policy.PUBLIC)
@csrf.exempt  # the access token in the body authenticates; the guard admits only this org's storefront origins
def handoff() -> Response:
    """A storefront holding a customer access token opens a portal session (token in the body, never a URL)."""
    try:
        context = verify(request.form.get("access_token", ""))
    except TokenError:
        context = None
    if context is None or context.customer is None:
        return render("shop/auth/handoff_failed.html", status=401)
    if context.organization_id != g.org.id:
        return render("shop/auth/handoff_failed.html", status=401)
    sessions.start(context.customer, g.org)
    return see_other("shop.overview")
