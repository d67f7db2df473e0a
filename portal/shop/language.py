"""The language switcher: a plain form (works without JavaScript) on every shopper page."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from werkzeug.wrappers import Response

from portal import i18n
from portal.security.routes import Policy, allow
from portal.shop import _local_path, bp, customer
from portal.shop.forms import ActionForm


@bp.post("/language")
@allow(Policy.PUBLIC)
def language() -> Response:
    """Remember the chosen language (on the customer when signed in) and go back to the page it was chosen on."""
    locale = request.form.get("locale")
    if locale not in i18n.LOCALES or not ActionForm().validate_on_submit():
        abort(400)
    i18n.remember(locale, customer())
    return redirect(_local_path(request.form.get("next")) or url_for("shop.overview"), 303)
