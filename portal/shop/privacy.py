"""Privacy: download everything we hold, newsletter consent, ask for deletion, withdraw the request while pending."""

from __future__ import annotations

import json

from flask import abort, flash, g, make_response
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.errors import Invalid
from portal.forms import show_error
from portal.security.routes import Policy, allow
from portal.services import accounts, deletion_requests, subscriptions
from portal.services.audit import Actor
from portal.shop import bp, customer
from portal.shop.forms import ActionForm, NewsletterForm
from portal.web import is_htmx, render, see_other


def _page(
    form: ActionForm | None = None, status: int = 200, block: str = "deletion", newsletter_form=None
) -> Response:
    me = customer()
    return render(
        "shop/privacy.html",
        block,
        status=status,
        form=form or ActionForm(),
        newsletter_form=newsletter_form or NewsletterForm(),
        newsletter=subscriptions.newsletter(me),
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


@bp.post("/privacy/newsletter")
@allow(Policy.SHOPPER)
def privacy_newsletter() -> Response:
    """Give or withdraw newsletter consent (recorded with its time and source, audited)."""
    form = NewsletterForm()
    if not form.validate_on_submit():
        return _page(status=422, block="newsletter", newsletter_form=form)
    me = customer()
    subscribed = form.subscribe.data == "yes"
    subscriptions.set_newsletter(Actor.of_customer(me), g.org, me, subscribed, source="shop")
    if is_htmx():  # the section's own text says what changed (role=status)
        return _page(block="newsletter")
    return see_other("shop.privacy", _anchor="newsletter")


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
