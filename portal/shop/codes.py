"""Signing in with a one-time code emailed to the shopper (no password needed): ask for a code, then type it."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.extensions import limiter
from portal.security import sessions
from portal.security.routes import Policy, allow
from portal.services import accounts, email_codes
from portal.shop import _local_path, bp
from portal.shop.forms import CodeRequestForm, CodeSignInForm
from portal.web import form_status, render, see_other

CODE_EMAIL = "code_email"  # the address the code was asked for: kept in the session, never in a URL


def _carried() -> dict[str, str]:
    return {"market": request.args.get("market", ""), "next": request.args.get("next", "")}


@bp.route("/login/code", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
@limiter.limit(
    lambda: current_app.config["SIGN_IN_CODE_RATE_LIMIT"], methods=["POST"], scope="sign-in-code-ip"
)
def code_request() -> Response:
    form = CodeRequestForm(**_carried())
    if form.validate_on_submit():
        email_codes.request_code(g.org, form.email.data)
        session[CODE_EMAIL] = form.email.data.strip()
        flash(_("If an account uses that address, we've emailed it a sign-in code."), "success")
        return see_other("shop.code_sign_in", market=form.market.data or None, next=form.next.data or None)
    return render("shop/auth/code_request.html", status=form_status(form), form=form)


@bp.route("/login/code/enter", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def code_sign_in() -> Response:
    email = session.get(CODE_EMAIL)
    if not isinstance(email, str) or not email:
        return redirect(url_for("shop.code_request", **{k: v for k, v in _carried().items() if v}), 303)
    form = CodeSignInForm(**_carried())
    if form.validate_on_submit():
        found = email_codes.sign_in(g.org, email, form.code.data, request.remote_addr)
        refusal = accounts.market_refusal(g.org, form.market.data, found) if found else None
        if found is None:
            form.code.errors.append(
                _("That code is wrong or has expired. Check the email, or ask for a new code.")
            )
        elif refusal:
            form.form_errors.append(refusal)
        else:
            sessions.start(found, g.org)
            return see_other(_local_path(form.next.data) or url_for("shop.overview"))
    return render("shop/auth/code_sign_in.html", status=form_status(form), form=form, email=email)
