"""Privacy: download everything we hold, ask for deletion, withdraw the request while it is pending."""

from __future__ import annotations

import json

from flask import abort, flash, g, make_response
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.errors import Invalid
from portal.forms import show_error
from portal.security.routes import Policy, allow
from portal.services import accounts, deletion_requests
from portal.services.audit import Actor
from portal.shop import bp, customer
from portal.shop.forms import ActionForm
from portal.web import render, see_other


def _page(form: ActionForm | None = None, status: int = 200) -> Response:
    me = customer()
    return render(
        "shop/privacy.html",
        "deletion",
        status=status,
        form=form or ActionForm(),
        latest=deletion_requests.latest_for(me),
        pending=deletion_requests.pending_for(me),
    )


@bp.get("/privacy")
@allow(Policy.SHOPPER)
def privacy() -> Response:
    return _page()


@bp.get("/privacy/export")
@allow(Policy.SHOPPER)
def privacy_export() -> Response:
    data = accounts.export_data(g.org, customer())
    response = make_response(json.dumps(data, indent=2, ensure_ascii=False))
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = f'attachment; filename="{g.org.slug}-my-data.json"'
    return response


@bp.post("/privacy/deletion")
@allow(Policy.SHOPPER)
def privacy_deletion_request() -> Response:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    me = customer()
    try:
        deletion_requests.create(Actor.of_customer(me), g.org, me)
    except Invalid as error:
        show_error(form, error)
        return _page(form, status=422)
    flash(_("Your deletion request is sent. The store's team will review it."), "success")
    return see_other("shop.privacy", fragment=True)


@bp.post("/privacy/deletion/withdraw")
@allow(Policy.SHOPPER)
def privacy_deletion_withdraw() -> Response:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    me = customer()
    pending = deletion_requests.pending_for(me)
    if pending is None:
        abort(404)
    deletion_requests.withdraw(Actor.of_customer(me), g.org, pending)
    flash(_("Your deletion request is withdrawn."), "success")
    return see_other("shop.privacy", fragment=True)
