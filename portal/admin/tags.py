"""Customer tags and staff notes on the admin customer page, and tagging many customers from the search."""

from __future__ import annotations

from flask import flash, g, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from portal.admin import bp
from portal.admin.customers import back_args, detail_page
from portal.admin.forms import BulkTagForm, ConfirmForm, NoteForm, TagForm, choices
from portal.admin.guard import requires
from portal.errors import DomainError
from portal.forms import show_error
from portal.models.staff import Role
from portal.services import attachments, customers, tags
from portal.services.audit import Actor
from portal.web import form_status, is_htmx, render, see_other


def _done(customer_id: str, message: str, block: str):
    """After a change: the panel for htmx, else back to the customer page with a flash."""
    if is_htmx():
        return detail_page(customers.get_customer(g.org, customer_id), block=block)
    flash(message, "success")
    return see_other(url_for("admin.customer_detail", org_slug=g.org.slug, customer_id=customer_id))


@bp.post("/<org_slug>/customers/<customer_id>/tags")
@requires(Role.ADMIN)
def customer_tag_add(customer_id: str):
    customer = customers.get_customer(g.org, customer_id, lock=True)
    form = TagForm()
    if form.validate_on_submit():
        try:
            tags.add_by_name(Actor.of_user(g.user), g.org, customer, form.name.data)
        except DomainError as error:
            show_error(form, error)
        else:
            return _done(customer_id, _("Tag added."), "tags_panel")
    return detail_page(customer, tag_form=form, status=form_status(form), block="tags_panel")


@bp.post("/<org_slug>/customers/<customer_id>/tags/<tag_id>/remove")
@requires(Role.ADMIN)
def customer_tag_remove(customer_id: str, tag_id: str):
    customer = customers.get_customer(g.org, customer_id, lock=True)
    if not ConfirmForm().validate_on_submit():
        return detail_page(customer, status=422, block="tags_panel")
    tags.remove_tag(Actor.of_user(g.user), g.org, customer, tag_id)
    return _done(customer_id, _("Tag removed."), "tags_panel")


@bp.post("/<org_slug>/customers/<customer_id>/notes")
@requires(Role.ADMIN)
def customer_note_add(customer_id: str):
    customer = customers.get_customer(g.org, customer_id, lock=True)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            attachments.add_note(Actor.of_user(g.user), g.org, customer, form.text.data)
        except DomainError as error:
            show_error(form, error, field_map={"description": "text"})
        else:
            return _done(customer_id, _("Note added."), "notes_panel")
    return detail_page(customer, note_form=form, status=form_status(form), block="notes_panel")


@bp.post("/<org_slug>/customers/<customer_id>/notes/<note_id>/delete")
@requires(Role.ADMIN)
def customer_note_delete(customer_id: str, note_id: str):
    customer = customers.get_customer(g.org, customer_id, lock=True)
    note = attachments.get_customer_attachment(g.org, customer, note_id)
    if not ConfirmForm().validate_on_submit():
        return detail_page(customer, status=422, block="notes_panel")
    attachments.delete_attachment(Actor.of_user(g.user), g.org, note)
    return _done(customer_id, _("Note deleted."), "notes_panel")


@bp.post("/<org_slug>/customers/bulk-tag")
@requires(Role.ADMIN)
def customers_bulk_tag():
    """Tag (or untag) the selected customers: the same two steps as the bulk group assignment."""
    form = BulkTagForm()
    form.ids.choices = choices((i, i) for i in request.form.getlist("ids"))
    form.tag.choices = choices((tag.public_id, tag.name) for tag in tags.tag_options(g.org))
    if form.validate_on_submit() and form.confirmed.data:
        tag = tags.get_tag(g.org, form.tag.data)
        remove = form.action.data == "remove"
        count = tags.bulk_tag(Actor.of_user(g.user), g.org, form.ids.data[:1000], tag, remove=remove)
        flash(ngettext("%(num)s customer updated.", "%(num)s customers updated.", count), "success")
        return see_other(url_for("admin.customers_list", org_slug=g.org.slug, **back_args()))
    target = next((c.label for c in form.tag.choices if c.value == form.tag.data), None)
    return render(
        "admin/customers/bulk_tag.html",
        status=form_status(form),
        org=g.org,
        form=form,
        target=target,
        back=back_args(),
    )
