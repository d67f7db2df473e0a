"""The signed-in shopper's overview, profile (email), password and security pages."""

from __future__ import annotations

from flask import abort, flash, g
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal import db
from portal.errors import Invalid
from portal.forms import show_error
from portal.security import sessions
from portal.security.routes import Policy, allow
from portal.services import accounts, customers, passkeys
from portal.shop import bp, customer
from portal.shop.forms import ActionForm, ChangeEmailForm, ChangePasswordForm, PasskeyNameForm
from portal.web import form_status, render, see_other


@bp.get("/")
@db.reads_only
@allow(Policy.SHOPPER)
def overview() -> Response:
    return render("shop/account/overview.html", **accounts.overview(g.org, customer()))


@bp.route("/profile", methods=["GET", "POST"])
@allow(Policy.SHOPPER)
def profile() -> Response:
    me = customer()
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            accounts.request_email_change(g.org, me, form.email.data, form.current_password.data)
        except Invalid as error:
            show_error(form, error)
        else:
            flash(_("We've sent a confirmation link to %(email)s.", email=form.email.data.strip()), "success")
            return see_other("shop.profile")
    return _profile_page(form)


def _profile_page(form: ChangeEmailForm, status: int | None = None) -> Response:
    me = customer()
    return render(
        "shop/account/profile.html",
        status=status or form_status(form),
        form=form,
        customer=me,
        pending=accounts.pending_email_change(g.org, me),
        resend=ActionForm(),
    )


@bp.post("/profile/verify-email")
@allow(Policy.SHOPPER)
def profile_verify() -> Response:
    """Resend the link that confirms the shopper's current address (at most a few an hour)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    if not accounts.resend_verification(g.org, customer()):
        flash(
            _(
                "We've already sent you several links. Check your inbox and spam folder, or try again in an hour."
            ),
            "error",
        )
        return _profile_page(ChangeEmailForm(formdata=None), status=429)
    flash(_("We've sent a confirmation link to %(email)s.", email=customer().email), "success")
    return see_other("shop.profile")


@bp.route("/password", methods=["GET", "POST"])
@allow(Policy.SHOPPER)
def password() -> Response:
    me = customer()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(g.org, me, form.current_password.data, form.password.data)
        except Invalid as error:
            show_error(form, error)
        else:
            sessions.start(me, g.org)  # every other session ended; this browser continues in a fresh one
            flash(_("Your password is changed. Every other session was signed out."), "success")
            return see_other("shop.password")
    status = form_status(form)
    return render("shop/account/password.html", status=status, form=form)


def _security_page(status: int = 200) -> Response:
    me = customer()
    current = sessions.current()
    return render(
        "shop/account/security.html",
        "active_sessions",
        status=status,
        sign_ins=accounts.sign_ins(me),
        active=accounts.active_sessions(me),
        current_id=current.id if current else None,
        changes=accounts.account_changes(g.org, me),
        form=ActionForm(),
        passkeys=passkeys.list_for(me),
        passkey_form=PasskeyNameForm(),
    )


@bp.get("/security")
@allow(Policy.SHOPPER)
def security() -> Response:
    return _security_page()


@bp.post("/security/sessions/<int:session_id>/end")
@allow(Policy.SHOPPER)
def session_end(session_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    accounts.end_session(customer(), session_id)
    flash(_("That session is signed out."), "success")
    return see_other("shop.security", fragment=True)


@bp.post("/security/sign-out-everywhere")
@allow(Policy.SHOPPER)
def sign_out_everywhere() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    customers.end_all_sessions(customer())
    sessions.end()
    flash(_("You are signed out on every device."), "success")
    return see_other("shop.login")


@bp.get("/<path:_unknown>")
@allow(Policy.PUBLIC)
def unknown_page(_unknown: str) -> Response:
    """A path under the store's account area that is no page: answered here rather than by the app's own 404, so
    the org is resolved and the error page wears the store's layout and brand colour (routes with fixed parts win
    over this one)."""
    abort(404)
