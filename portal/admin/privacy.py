"""The privacy queue: anonymization requests by state, and shoppers' deletion requests to approve or reject."""

from __future__ import annotations

from flask import flash, g, request, url_for
from flask_babel import gettext as _

from portal.admin import bp
from portal.admin.forms import ConfirmForm, RejectForm
from portal.admin.guard import requires, requires_recent_login
from portal.errors import DomainError
from portal.forms import show_error
from portal.models.customers import AnonymizationStatus
from portal.models.staff import Role
from portal.services import anonymization, deletion_requests
from portal.services.audit import Actor
from portal.web import render, see_other

STATES = [s.value for s in AnonymizationStatus]


def _queue(status: int = 200, reject_forms: dict | None = None):
    state = request.args.get("state", "requested")
    if state not in STATES:
        state, status = "requested", 422
    return render(
        "admin/privacy/queue.html",
        status=status,
        org=g.org,
        state=state,
        states=STATES,
        anonymizations=anonymization.queue(g.org, state),
        deletions=deletion_requests.queue(g.org),
        confirm=ConfirmForm(),
        reject_forms=reject_forms or {},
        new_reject=RejectForm,
    )


@bp.get("/<org_slug>/privacy")
@requires(Role.READ_ONLY)
def privacy_queue():
    return _queue()


@bp.post("/<org_slug>/privacy/deletions/<request_id>/approve")
@requires(Role.ADMIN)
@requires_recent_login
def deletion_approve(request_id: str):
    deletion = deletion_requests.get_request(g.org, request_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            deletion_requests.approve(Actor.of_user(g.user), g.org, deletion)
        except DomainError as error:
            flash(error.message, "error")
            return _queue(status=409)
        flash(_("Approved: the customer's anonymization is requested."), "success")
        return see_other(url_for("admin.privacy_queue", org_slug=g.org.slug))
    return _queue(status=422)


@bp.post("/<org_slug>/privacy/deletions/<request_id>/reject")
@requires(Role.ADMIN)
def deletion_reject(request_id: str):
    deletion = deletion_requests.get_request(g.org, request_id)
    form = RejectForm(prefix=deletion.public_id)
    if form.validate_on_submit():
        try:
            deletion_requests.reject(Actor.of_user(g.user), g.org, deletion, form.reason.data)
        except DomainError as error:
            show_error(form, error, field_map={"rejection_reason": "reason"})
        else:
            flash(_("Rejected; the shopper was told why."), "success")
            return see_other(url_for("admin.privacy_queue", org_slug=g.org.slug))
    return _queue(status=422, reject_forms={deletion.public_id: form})
