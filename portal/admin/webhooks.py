"""Webhooks under the org settings: admins subscribe, see the secret once, rotate it, reset a circuit, disable,
enable, delete; read-only members see the list and the recent deliveries."""

from __future__ import annotations

from flask import flash, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.admin import bp
from portal.admin.forms import ConfirmForm, WebhookForm, choices
from portal.admin.guard import requires
from portal.errors import DomainError
from portal.forms import show_error
from portal.models import Webhook
from portal.models.staff import Role
from portal.services import webhooks
from portal.services.audit import Actor
from portal.web import render, see_other

ACTIONS = {
    "rotate": ("rotate_secret", _l("A new secret was generated: copy it now.")),
    "reset": ("reset_circuit", _l("Circuit reset: deliveries resume.")),
    "disable": ("disable", _l("Webhook disabled.")),
    "enable": ("enable", _l("Webhook enabled.")),
}


def _form(**kwargs) -> WebhookForm:
    form = WebhookForm(**kwargs)
    form.topic.choices = choices((topic, topic) for topic in webhooks.TOPICS)
    return form


def _list_page(form: WebhookForm, status: int = 200):
    # Creating answers the new webhook's page (its secret shown once): a plain form POST, no fragment.
    return render(
        "admin/webhooks/list.html",
        status=status,
        org=g.org,
        hooks=webhooks.list_webhooks(g.org),
        form=form,
    )


def _detail_page(hook: Webhook, *, status: int = 200, secret: bool = False):
    return render(
        "admin/webhooks/detail.html",
        status=status,
        org=g.org,
        hook=hook,
        # The secret is shown to an admin right after it is made (creation, rotation), never on a plain visit.
        secret=hook.shared_secret if secret else None,
        callbacks=webhooks.recent_callbacks(g.org, hook),
        confirm=ConfirmForm(),
    )


@bp.get("/<org_slug>/settings/webhooks")
@requires(Role.READ_ONLY)
def webhooks_list():
    return _list_page(_form(formdata=None))


@bp.post("/<org_slug>/settings/webhooks")
@requires(Role.ADMIN)
def webhook_create():
    form = _form()
    if form.validate_on_submit():
        try:
            hook = webhooks.create_webhook(Actor.of_user(g.user), g.org, form.attributes())
        except DomainError as error:
            show_error(form, error)
        else:
            return _detail_page(hook, status=201, secret=True)
    return _list_page(form, 422)


@bp.get("/<org_slug>/settings/webhooks/<webhook_id>")
@requires(Role.READ_ONLY)
def webhook_detail(webhook_id: str):
    return _detail_page(webhooks.get_webhook(g.org, webhook_id))


@bp.post("/<org_slug>/settings/webhooks/<webhook_id>")
@requires(Role.ADMIN)
def webhook_update(webhook_id: str):
    hook = webhooks.get_webhook(g.org, webhook_id)
    action = ACTIONS.get(request.form.get("action", ""))
    if not ConfirmForm().validate_on_submit():
        return _detail_page(hook, status=422)
    if action is None:
        flash(_("Choose one of the page's actions."), "error")
        return _detail_page(hook, status=422)
    actor = Actor.of_user(g.user)
    name, message = action
    if name == "rotate_secret":
        webhooks.rotate_secret(actor, g.org, hook)
        return _detail_page(hook, secret=True)
    if name == "reset_circuit":
        webhooks.reset_circuit(actor, g.org, hook)
    else:
        webhooks.set_enabled(actor, g.org, hook, name == "enable")
    flash(message, "success")
    return see_other(url_for("admin.webhook_detail", org_slug=g.org.slug, webhook_id=webhook_id))


@bp.post("/<org_slug>/settings/webhooks/<webhook_id>/delete")
@requires(Role.ADMIN)
def webhook_delete(webhook_id: str):
    hook = webhooks.get_webhook(g.org, webhook_id)
    if not ConfirmForm().validate_on_submit():
        return _detail_page(hook, status=422)
    webhooks.delete_webhook(Actor.of_user(g.user), g.org, hook)
    flash(_("Webhook %(name)s deleted.", name=hook.name), "success")
    return see_other(url_for("admin.webhooks_list", org_slug=g.org.slug))
