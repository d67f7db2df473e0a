"""Customer groups (list, create, edit, delete, members) and markets (made private by linking a group)."""

from __future__ import annotations

from flask import flash, g, url_for
from flask_babel import gettext as _

from portal.admin import bp
from portal.admin.forms import ConfirmForm, GroupForm, MarketGroupForm, choices
from portal.admin.guard import requires
from portal.errors import DomainError
from portal.forms import show_error
from portal.models.staff import Role
from portal.services import groups
from portal.services.audit import Actor
from portal.web import form_status, render, see_other


@bp.get("/<org_slug>/groups")
@requires(Role.READ_ONLY)
def groups_list():
    return render("admin/groups/list.html", org=g.org, groups=groups.with_member_counts(g.org))


@bp.route("/<org_slug>/groups/new", methods=["GET", "POST"])
@requires(Role.ADMIN)
def group_create():
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = groups.create_group(Actor.of_user(g.user), g.org, form.attributes())
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Group %(name)s created.", name=group.name), "success")
            return see_other(url_for("admin.group_detail", org_slug=g.org.slug, group_id=group.public_id))
    status = form_status(form)
    return render("admin/groups/form.html", "group_form", status=status, org=g.org, form=form, group=None)


@bp.get("/<org_slug>/groups/<group_id>")
@requires(Role.READ_ONLY)
def group_detail(group_id: str):
    group = groups.get_group(g.org, group_id)
    return render(
        "admin/groups/detail.html",
        org=g.org,
        group=group,
        members=groups.group_members(g.org, group),
        confirm=ConfirmForm(),
        error=None,
    )


@bp.route("/<org_slug>/groups/<group_id>/edit", methods=["GET", "POST"])
@requires(Role.ADMIN)
def group_edit(group_id: str):
    group = groups.get_group(g.org, group_id)
    form = GroupForm(obj=group)
    if form.validate_on_submit():
        try:
            groups.update_group(Actor.of_user(g.user), g.org, group, form.attributes())
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Group saved."), "success")
            return see_other(url_for("admin.group_detail", org_slug=g.org.slug, group_id=group_id))
    status = form_status(form)
    return render("admin/groups/form.html", "group_form", status=status, org=g.org, form=form, group=group)


@bp.post("/<org_slug>/groups/<group_id>/delete")
@requires(Role.ADMIN)
def group_delete(group_id: str):
    group = groups.get_group(g.org, group_id)
    error = None
    if ConfirmForm().validate_on_submit():
        try:
            groups.delete_group(Actor.of_user(g.user), g.org, group)
        except DomainError as refused:
            error = refused.message
        else:
            flash(_("Group deleted."), "success")
            return see_other(url_for("admin.groups_list", org_slug=g.org.slug))
    return render(
        "admin/groups/detail.html",
        status=409 if error else 422,
        org=g.org,
        group=group,
        members=groups.group_members(g.org, group),
        confirm=ConfirmForm(),
        error=error or "The form expired, try again.",
    )


def _choices():
    return choices(
        [("", "Public (no group)")] + [(grp.public_id, grp.name) for grp in groups.group_options(g.org)]
    )


def _market_forms() -> dict[str, MarketGroupForm]:
    group_choices = _choices()
    forms = {}
    for market in groups.markets_of(g.org):
        form = MarketGroupForm(
            prefix=market.public_id,
            formdata=None,
            group=market.customer_group.public_id if market.customer_group else "",
        )
        form.group.choices = group_choices
        forms[market.public_id] = (market, form)
    return forms


@bp.get("/<org_slug>/markets")
@requires(Role.READ_ONLY)
def markets_list():
    return render("admin/markets/list.html", org=g.org, markets=_market_forms(), errors={})


@bp.post("/<org_slug>/markets/<market_id>")
@requires(Role.ADMIN)
def market_update(market_id: str):
    market = groups.get_market(g.org, market_id)
    form = MarketGroupForm(prefix=market.public_id)
    form.group.choices = _choices()
    if form.validate_on_submit():
        group = groups.get_group(g.org, form.group.data) if form.group.data else None
        groups.set_market_group(Actor.of_user(g.user), g.org, market, group)
        if group:
            flash(
                _("Market %(name)s is now private to %(group)s.", name=market.name, group=group.name),
                "success",
            )
        else:
            flash(_("Market %(name)s is now public.", name=market.name), "success")
        return see_other(url_for("admin.markets_list", org_slug=g.org.slug))
    forms = _market_forms()
    forms[market.public_id] = (market, form)
    return render("admin/markets/list.html", status=422, org=g.org, markets=forms, errors=form.errors)
