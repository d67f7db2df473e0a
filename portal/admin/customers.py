"""Customers: search (live, linkable, CSV), the customer page, edit, group, password reset, delete, anonymization."""

from __future__ import annotations

from flask import Response, flash, g, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from portal import db
from portal.admin import bp
from portal.admin.forms import (
    AssignGroupForm,
    BulkAssignForm,
    ConfirmForm,
    CustomerForm,
    NoteForm,
    TagForm,
    choices,
)
from portal.admin.guard import requires, requires_recent_login
from portal.errors import DomainError, Locked
from portal.forms import show_error
from portal.models.staff import Role
from portal.services import anonymization, customers, groups, password_resets, search, staff, tags
from portal.services.audit import Actor, actor_names
from portal.web import form_status, from_htmx, render, see_other


def _actor() -> Actor:
    return Actor.of_user(g.user)


def _group_choices(*, none_label: str = "No group") -> list[tuple[str, str]]:
    return choices([("", none_label)] + [(grp.public_id, grp.name) for grp in groups.group_options(g.org)])


def _group(public_id: str):
    return groups.get_group(g.org, public_id) if public_id else None


@bp.get("/<org_slug>/")
@db.reads_only
@requires(Role.READ_ONLY)
def dashboard():
    return render("admin/dashboard.html", org=g.org, data=staff.dashboard(g.org), choices=search.CHOICES)


@bp.get("/<org_slug>/customers")
@db.reads_only
@requires(Role.READ_ONLY)
def customers_list():
    errors: dict[str, str] = {}
    try:
        query = search.parse(request.args)
        page = search.search(g.org, query)
    except DomainError as error:
        errors[error.field or "q"] = error.message
        query, page = search.Query(), search.Page([], None, groups.group_options(g.org))
    return render(
        "admin/customers/list.html",
        "results",
        status=422 if errors else 200,
        org=g.org,
        query=query,
        page=page,
        errors=errors,
        args=request.args,
        choices=search.CHOICES,
        groups=page.groups,
        tags=tags.tag_options(g.org),
        bulk=BulkAssignForm(),
    )


@bp.get("/<org_slug>/customers.csv")
@requires(Role.READ_ONLY)
def customers_export():
    try:
        query = search.parse(request.args)
    except DomainError as error:
        return Response(f"{error.field}: {error.message}\n", 422, mimetype="text/plain")
    body = stream_with_context(search.export_csv(g.org, query))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{g.org.slug}-customers.csv"'
    return response


@bp.post("/<org_slug>/customers/bulk")
@requires(Role.ADMIN)
def customers_bulk():
    """Assign (or unassign) the selected customers: a first POST shows the count to confirm, the second applies."""
    form = BulkAssignForm()
    form.ids.choices = choices((i, i) for i in request.form.getlist("ids"))
    form.group.choices = _group_choices(none_label="No group (unassign)")
    if form.validate_on_submit() and form.confirmed.data:
        count = groups.bulk_assign(_actor(), g.org, form.ids.data[:1000], _group(form.group.data))
        flash(ngettext("%(num)s customer updated.", "%(num)s customers updated.", count), "success")
        return see_other(url_for("admin.customers_list", org_slug=g.org.slug, **back_args()))
    status = form_status(form)
    target = next((c.label for c in form.group.choices if c.value == form.group.data), None)
    return render(
        "admin/customers/bulk.html", status=status, org=g.org, form=form, target=target, back=back_args()
    )


def back_args() -> dict[str, str]:
    """The list's search, filters and page, carried through a bulk form as `back_*` fields."""
    return {k[5:]: v for k, v in request.form.items() if k.startswith("back_") and v}


def detail_page(
    customer,
    *,
    group_form=None,
    tag_form=None,
    note_form=None,
    status: int = 200,
    block: str | None = None,
):
    group_form = group_form or AssignGroupForm(
        group=customer.customer_group.public_id if customer.customer_group else ""
    )
    group_form.group.choices = _group_choices()
    return render(
        "admin/customers/detail.html",
        block,
        status=status,
        org=g.org,
        customer=customer,
        info=anonymization.info(customer),
        extra=(extra := customers.customer_page(g.org, customer)),
        actors=actor_names(extra["timeline"]),
        group_form=group_form,
        tag_form=tag_form or TagForm(formdata=None),
        note_form=note_form or NoteForm(formdata=None),
        tag_names=[tag.name for tag in tags.tag_options(g.org)],
        confirm=ConfirmForm(),
    )


@bp.get("/<org_slug>/customers/<customer_id>")
@requires(Role.READ_ONLY)
def customer_detail(customer_id: str):
    return detail_page(customers.get_customer(g.org, customer_id))


def _refuse_anonymized(customer) -> Response:
    """An anonymized customer is read-only: its page offers no edit or reset, and a forged request gets a 409."""
    flash(_("An anonymized customer cannot be changed."), "error")
    return detail_page(customer, status=409)


@bp.route("/<org_slug>/customers/<customer_id>/edit", methods=["GET", "POST"])
@requires(Role.ADMIN)
def customer_edit(customer_id: str):
    customer = customers.get_customer(g.org, customer_id, lock=request.method == "POST")
    if customer.anonymized:
        return _refuse_anonymized(customer)
    form = CustomerForm(obj=customer)
    if request.method == "GET":
        import json

        form.metadata_json.data = json.dumps(customer.metadata_ or {}, indent=2, ensure_ascii=False)
    if form.validate_on_submit():
        try:
            customers.update_customer(_actor(), g.org, customer, form.attributes())
        except DomainError as error:
            show_error(form, error, field_map={"metadata": "metadata_json"})
        else:
            flash(_("Customer saved."), "success")
            return see_other(url_for("admin.customer_detail", org_slug=g.org.slug, customer_id=customer_id))
    status = form_status(form)
    return render(
        "admin/customers/edit.html", "edit_form", status=status, org=g.org, customer=customer, form=form
    )


@bp.post("/<org_slug>/customers/<customer_id>/group")
@requires(Role.ADMIN)
def customer_group(customer_id: str):
    customer = customers.get_customer(g.org, customer_id, lock=request.method == "POST")
    form = AssignGroupForm()
    form.group.choices = _group_choices()
    if form.validate_on_submit():
        try:
            groups.assign_to_group(_actor(), g.org, customer, _group(form.group.data))
        except DomainError as error:
            show_error(form, error)
        else:
            if not from_htmx():
                flash(_("Group saved."), "success")
                return see_other(
                    url_for("admin.customer_detail", org_slug=g.org.slug, customer_id=customer_id)
                )
            return detail_page(customer, block="group_panel")
    status = form_status(form)
    return detail_page(customer, group_form=form, status=status, block="group_panel")


@bp.post("/<org_slug>/customers/<customer_id>/password-reset")
@requires(Role.ADMIN)
def customer_password_reset(customer_id: str):
    """Staff never set passwords: they send the customer a reset link."""
    customer = customers.get_customer(g.org, customer_id, lock=request.method == "POST")
    if customer.anonymized:
        return _refuse_anonymized(customer)
    if not ConfirmForm().validate_on_submit():
        return detail_page(customer, status=422)
    reset, token = password_resets.request_reset(_actor(), g.org, customer.email)
    if reset is not None and token:
        password_resets.mail_reset_link(g.org, reset, token)
        flash(_("A password-reset link was sent to the customer."), "success")
    else:
        flash(_("This customer cannot receive a password reset."), "error")
    return see_other(url_for("admin.customer_detail", org_slug=g.org.slug, customer_id=customer_id))


@bp.post("/<org_slug>/customers/<customer_id>/delete")
@requires(Role.ADMIN)
def customer_delete(customer_id: str):
    customer = customers.get_customer(g.org, customer_id, lock=request.method == "POST")
    if not ConfirmForm().validate_on_submit():
        return detail_page(customer, status=422)
    try:
        customers.delete_customer(_actor(), g.org, customer)
    except Locked as error:
        flash(_("%(reason)s. You can request its anonymization instead.", reason=error.message), "error")
        return detail_page(customer, status=423)
    flash(_("Customer deleted."), "success")
    return see_other(url_for("admin.customers_list", org_slug=g.org.slug))


@bp.route("/<org_slug>/customers/<customer_id>/anonymization", methods=["GET", "POST"])
@requires(Role.ADMIN)
@requires_recent_login
def customer_anonymize(customer_id: str):
    """Request or cancel the customer's anonymization: a confirmation page, then the POST."""
    customer = customers.get_customer(g.org, customer_id, lock=request.method == "POST")
    form = ConfirmForm()
    action = request.values.get("action", "request")
    actions = {
        "request": (anonymization.request_anonymization, _("Anonymization requested.")),
        "cancel": (anonymization.cancel_anonymization, _("Anonymization cancelled.")),
    }
    if form.validate_on_submit():
        if action not in actions:
            form.form_errors.append(_("Choose to request or to cancel the anonymization."))
        else:
            service, done = actions[action]
            try:
                service(_actor(), g.org, customer)
            except DomainError as error:
                show_error(form, error)
            else:
                flash(done, "success")
                return see_other(
                    url_for("admin.customer_detail", org_slug=g.org.slug, customer_id=customer_id)
                )
    status = 422 if request.method == "POST" else 200
    return render(
        "admin/customers/anonymize.html",
        status=status,
        org=g.org,
        customer=customer,
        form=form,
        action=action,
        delay=anonymization.delay(g.org),
    )
