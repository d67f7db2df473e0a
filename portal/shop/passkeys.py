"""Passkeys in the shopper area: sign in with one (JSON for static/js/passkeys.js), add, rename and remove them
on the security page. Registering needs JavaScript (the browser's WebAuthn API); renaming and removing are forms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, g, jsonify, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal import db
from portal.errors import Invalid
from portal.forms import for_error
from portal.security import sessions
from portal.security import webauthn as rp
from portal.security.routes import Policy, allow
from portal.services import accounts, passkeys
from portal.services.audit import Actor
from portal.shop import _local_path, bp, customer
from portal.shop.forms import ActionForm, PasskeyNameForm
from portal.web import see_other

REGISTER_CHALLENGE = "passkey_register"
RECENT_SIGN_IN = timedelta(minutes=10)


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


@bp.post("/login/passkey/options")
@allow(Policy.PUBLIC)
@rp.limit_sign_in_options
def passkey_sign_in_options() -> Response:
    # The challenge stays server-side only: the sign-in reads it back from the assertion (rp.challenge_of).
    options, _challenge = passkeys.sign_in_options("customer", g.org)
    return jsonify(publicKey=options)


@bp.post("/login/passkey")
@allow(Policy.PUBLIC)
def passkey_sign_in() -> Response:
    data = _json()
    challenge = rp.challenge_of(data.get("credential"))
    found = passkeys.authenticate("customer", g.org, data.get("credential"), challenge, request.remote_addr)
    if found is None:
        return jsonify(error=_("That passkey didn't sign you in. Try again, or sign in another way.")), 401
    refusal = accounts.market_refusal(g.org, _text(data, "market"), found)
    if refusal:
        return jsonify(error=refusal), 403
    sessions.start(found, g.org)
    return jsonify(redirect=_local_path(_text(data, "next")) or url_for("shop.overview"))


def _recently_signed_in() -> bool:
    row = sessions.current()
    return row is not None and db.utcnow() - row.authenticated_at <= RECENT_SIGN_IN


@bp.post("/security/passkeys/options")
@allow(Policy.SHOPPER)
def passkey_options() -> Response:
    """A new passkey is a new way into the account: only a session that signed in in the last minutes may add one
    (a borrowed or stolen session cannot plant its own)."""
    if not _recently_signed_in():
        return jsonify(error=_("To add a passkey, sign out and sign in again first.")), 403
    options, challenge = passkeys.registration_options(customer(), g.org)
    session[REGISTER_CHALLENGE] = challenge
    return jsonify(publicKey=options)


@bp.post("/security/passkeys")
@allow(Policy.SHOPPER)
def passkey_create() -> Response:
    me, data = customer(), _json()
    challenge = session.pop(REGISTER_CHALLENGE, None)
    try:
        passkeys.register(
            Actor.of_customer(me), me, g.org, data.get("credential"), challenge, data.get("name")
        )
    except Invalid as error:
        return jsonify(error=for_error(error)), 422
    flash(_("Your passkey is added. Next time, sign in with it."), "success")
    return jsonify(redirect=url_for("shop.security"))


@bp.post("/security/passkeys/<passkey_id>/rename")
@allow(Policy.SHOPPER)
def passkey_rename(passkey_id: str) -> Response:
    me = customer()
    form = PasskeyNameForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        passkeys.rename(Actor.of_customer(me), me, g.org, passkey_id, form.name.data)
    except Invalid as error:
        flash(for_error(error), "error")
        return see_other("shop.security")
    flash(_("The passkey is renamed."), "success")
    return see_other("shop.security")


@bp.post("/security/passkeys/<passkey_id>/remove")
@allow(Policy.SHOPPER)
def passkey_remove(passkey_id: str) -> Response:
    me = customer()
    if not ActionForm().validate_on_submit():
        abort(400)
    if not _recently_signed_in():  # like adding one: a borrowed session cannot take the owner's passkeys away
        flash(_("To remove a passkey, sign out and sign in again first."), "error")
        return see_other("shop.security")
    passkeys.remove(Actor.of_customer(me), me, g.org, passkey_id)
    flash(_("The passkey is removed. It no longer signs you in."), "success")
    return see_other("shop.security")
