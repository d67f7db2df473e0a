"""Staff passkeys: sign in with one (it skips the TOTP step: it is both factors), and the account security page
where they are added, renamed and removed, beside the two-factor status and the recovery codes left."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, jsonify, request, session, url_for
from flask_babel import gettext as _

from portal.admin import bp
from portal.admin.auth import start_session
from portal.admin.forms import ConfirmForm, PasskeyNameForm
from portal.admin.guard import recently_authenticated, requires_staff
from portal.errors import Invalid
from portal.security import webauthn as rp
from portal.security.routes import Policy, allow
from portal.services import passkeys
from portal.services.audit import Actor
from portal.web import render, see_other

REGISTER_CHALLENGE = "passkey_register"


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@bp.post("/login/passkey/options")
@allow(Policy.PUBLIC)
@rp.limit_sign_in_options
def passkey_sign_in_options():
    # The challenge stays server-side only: the sign-in reads it back from the assertion (rp.challenge_of).
    options, _challenge = passkeys.sign_in_options("user", None)
    return jsonify(publicKey=options)


@bp.post("/login/passkey")
@allow(Policy.PUBLIC)
def passkey_sign_in():
    data = _json()
    challenge = rp.challenge_of(data.get("credential"))
    user = passkeys.authenticate("user", None, data.get("credential"), challenge, request.remote_addr)
    if user is None:
        return jsonify(
            error=_("That passkey did not sign you in. Try again, or sign in with your password.")
        ), 401
    return jsonify(redirect=start_session(user, passkey=True))


@bp.get("/account/security")
@requires_staff
def account_security():
    return render(
        "admin/account/security.html",
        user=g.user,
        passkeys=passkeys.list_for(g.user),
        name_form=PasskeyNameForm(),
        form=ConfirmForm(),
    )


@bp.post("/account/security/passkeys/options")
@requires_staff
def passkey_options():
    """A new passkey is a new way in: only with the password typed in the last minutes (like anonymization)."""
    if not recently_authenticated():
        return jsonify(error=_("To add a passkey, sign out and sign in again first.")), 403
    options, challenge = passkeys.registration_options(g.user, None)
    session[REGISTER_CHALLENGE] = challenge
    return jsonify(publicKey=options)


@bp.post("/account/security/passkeys")
@requires_staff
def passkey_create():
    data = _json()
    challenge = session.pop(REGISTER_CHALLENGE, None)
    try:
        passkeys.register(
            Actor.of_user(g.user), g.user, None, data.get("credential"), challenge, data.get("name")
        )
    except Invalid as error:
        return jsonify(error=error.message), 422
    flash(_("Passkey added. Next time, sign in with it: it replaces the password and the code."), "success")
    return jsonify(redirect=url_for("admin.account_security"))


@bp.post("/account/security/passkeys/<passkey_id>/rename")
@requires_staff
def passkey_rename(passkey_id: str):
    form = PasskeyNameForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        passkeys.rename(Actor.of_user(g.user), g.user, None, passkey_id, form.name.data)
    except Invalid as error:
        flash(_("Name %(problem)s", problem=error.message), "error")
    else:
        flash(_("Passkey renamed."), "success")
    return see_other("admin.account_security")


@bp.post("/account/security/passkeys/<passkey_id>/remove")
@requires_staff
def passkey_remove(passkey_id: str):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if (
        not recently_authenticated()
    ):  # like adding one: a borrowed session cannot take the owner's passkeys away
        flash(_("To remove a passkey, sign out and sign in again first."), "error")
        return see_other("admin.account_security")
    passkeys.remove(Actor.of_user(g.user), g.user, None, passkey_id)
    flash(_("Passkey removed. It no longer signs you in."), "success")
    return see_other("admin.account_security")
