"""The audit log and the org settings: branding, origins, anonymization delay, members, applications, credentials."""

from __future__ import annotations

from flask import flash, g, request, url_for
from flask_babel import gettext as _

from portal.admin import bp
from portal.admin.forms import (
    ApplicationForm,
    ConfirmForm,
    InviteForm,
    RedirectUrisForm,
    RoleForm,
    SettingsForm,
)
from portal.admin.guard import requires
from portal.errors import DomainError
from portal.forms import show_error
from portal.models.staff import Role
from portal.services import applications, audit, consents, orgs, staff
from portal.services.audit import Actor, actor_names
from portal.web import external_url, render, see_other


@bp.get("/<org_slug>/audit")
@requires(Role.READ_ONLY)
def audit_log():
    errors: dict[str, str] = {}
    try:
        query = audit.parse_audit(request.args)
        events, next_before = audit.audit_log(g.org, query)
    except DomainError as error:
        errors[error.field or "action"] = error.message
        query, events, next_before = audit.AuditQuery(), [], None
    return render(
        "admin/audit.html",
        "audit_results",
        status=422 if errors else 200,
        org=g.org,
        query=query,
        events=events,
        actors=actor_names(events),
        next_before=next_before,
        errors=errors,
    )


def _settings_form() -> SettingsForm:
    org = g.org
    return SettingsForm(
        formdata=None,
        name=org.name,
        primary_color=org.primary_color,
        logo_url=org.logo_url,
        allowed_origins="\n".join(org.allowed_origins or []),
        anonymization_delay_seconds=org.anonymization_delay_seconds,
        require_admin_2fa=org.require_admin_2fa,
        password_grant=orgs.password_grant_enabled(org),
    )


def _settings_page(status: int = 200, **forms):
    return render(
        "admin/settings.html",
        status=status,
        org=g.org,
        readonly=g.role is not Role.ADMIN,
        form=forms.get("form") or _settings_form(),
        invite=forms.get("invite") or InviteForm(formdata=None),
        app_form=forms.get("app_form") or ApplicationForm(formdata=None),
        members=staff.members(g.org),
        role_form=RoleForm,
        role_forms=forms.get("role_forms") or {},
        applications=applications.active(g.org),
        grants=consents.active_grants(g.org),
        credentials=applications.user_credentials(g.user),
        confirm=ConfirmForm(),
        secret=forms.get("secret"),
    )


@bp.get("/<org_slug>/settings")
@requires(Role.READ_ONLY)
def settings():
    return _settings_page()


@bp.post("/<org_slug>/settings")
@requires(Role.ADMIN)
def settings_update():
    form = SettingsForm()
    if form.validate_on_submit():
        try:
            staff.update_settings(Actor.of_user(g.user), g.org, form.values())
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Settings saved."), "success")
            return see_other(url_for("admin.settings", org_slug=g.org.slug))
    return _settings_page(422, form=form)


@bp.post("/<org_slug>/settings/members")
@requires(Role.ADMIN)
def member_invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user, token = staff.invite(Actor.of_user(g.user), g.org, form.email.data, form.role.data)
        except DomainError as error:
            show_error(form, error)
        else:
            link = external_url("admin.invite_accept", token=token) if token else external_url("admin.login")
            staff.send_invite(g.org, user, token, link)
            flash(_("Invitation sent to %(email)s.", email=user.email), "success")
            return see_other(url_for("admin.settings", org_slug=g.org.slug))
    return _settings_page(422, invite=form)


@bp.post("/<org_slug>/settings/members/<user_id>")
@requires(Role.ADMIN)
def member_update(user_id: str):
    staff.get_membership(g.org, user_id)  # another org's or an unknown user: 404 before the form is read
    form = RoleForm(prefix=user_id)
    action = request.form.get("action", "role")
    if form.validate_on_submit():
        try:
            if action == "remove":
                staff.remove_member(Actor.of_user(g.user), g.org, user_id)
            else:
                staff.set_role(Actor.of_user(g.user), g.org, user_id, form.role.data)
        except DomainError as error:
            if error.status == 404:
                raise
            flash(error.message, "error")
            return _settings_page(422)
        flash(_("Member updated."), "success")
        return see_other(url_for("admin.settings", org_slug=g.org.slug))
    return _settings_page(422, role_forms={user_id: form})


@bp.post("/<org_slug>/settings/applications")
@requires(Role.ADMIN)
def application_create():
    form = ApplicationForm()
    if form.validate_on_submit():
        try:
            application, secret = orgs.create_application(
                Actor.of_user(g.user),
                g.org,
                name=form.name.data,
                kind=form.kind.data,
                role=form.role.data,
                redirect_uris=form.redirect_uris.data or "",
            )
        except DomainError as error:
            show_error(form, error, field_map={"redirect_uri": "redirect_uris"})
        else:
            return _settings_page(201, secret=(application, secret))
    return _settings_page(422, app_form=form)


@bp.post("/<org_slug>/settings/applications/<application_id>")
@requires(Role.ADMIN)
def application_update(application_id: str):
    application = applications.get_application(g.org, application_id)
    if not ConfirmForm().validate_on_submit():
        return _settings_page(422)
    if request.form.get("action") == "revoke":
        applications.revoke_application(Actor.of_user(g.user), g.org, application)
        flash(_("Application %(name)s revoked.", name=application.name), "success")
        return see_other(url_for("admin.settings", org_slug=g.org.slug))
    try:
        secret = orgs.rotate_secret(Actor.of_user(g.user), application)
    except DomainError as error:
        flash(error.message, "error")
        return _settings_page(422)
    return _settings_page(200, secret=(application, secret))


@bp.post("/<org_slug>/settings/applications/<application_id>/redirect-uris")
@requires(Role.ADMIN)
def application_redirect_uris(application_id: str):
    application = applications.get_application(g.org, application_id)
    form = RedirectUrisForm()
    if form.validate_on_submit():
        try:
            orgs.set_redirect_uris(Actor.of_user(g.user), application, form.redirect_uris.data)
        except DomainError as error:
            flash(
                _(
                    "Redirect URIs of %(name)s not saved: %(problem)s",
                    name=application.name,
                    problem=error.message,
                ),
                "error",
            )
        else:
            flash(_("Redirect URIs of %(name)s saved.", name=application.name), "success")
            return see_other(url_for("admin.settings", org_slug=g.org.slug))
    return _settings_page(422)


@bp.post("/<org_slug>/settings/grants/<consent_id>")
@requires(Role.ADMIN)
def grant_revoke(consent_id: str):
    """Withdraw what a person allowed an application (authorization code grant): its tokens for them die too."""
    if not ConfirmForm().validate_on_submit():
        return _settings_page(422)
    consents.revoke_grant(Actor.of_user(g.user), g.org, consent_id)
    flash(_("Grant revoked."), "success")
    return see_other(url_for("admin.settings", org_slug=g.org.slug))


@bp.post("/<org_slug>/settings/credentials")
@requires(Role.READ_ONLY)
def credentials_issue():
    """The current user's own provisioning credentials (any role may manage their own)."""
    if not ConfirmForm().validate_on_submit():
        return _settings_page(422)
    application, secret = applications.issue_user_credentials(Actor.of_user(g.user), g.user)
    return _settings_page(200, secret=(application, secret))
