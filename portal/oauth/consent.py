"""`/oauth/authorize`: the hosted sign-in of the authorization code grant, for every organization.

The request is checked by authlib first; a bad client or redirect URI gets an error page, never a redirect (the
URI is not trusted). The person then signs in where they always do, in the client's organization: shoppers on
its branded shop login (a sales channel), staff on the admin login with their second factor (a webapp); `next`
brings them back here. The first time an application asks a person, they are asked to allow it (a form with its
own CSRF token: the blueprint is exempt for the token endpoint); after that the code goes straight back.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import AccessDeniedError
from flask import abort, g, redirect, request, url_for
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SubmitField

from portal.forms import Form
from portal.models import Application, Customer, User
from portal.models.staff import ApplicationKind, Role
from portal.oauth import bp, clients
from portal.oauth.authorize import server
from portal.oauth.errors import OAuth2Error
from portal.security import sessions
from portal.security.cookies import same_origin_post
from portal.security.routes import Policy, allow
from portal.services import consents
from portal.services.audit import Actor
from portal.web import render, set_frame_ancestors


class ConsentForm(Form):
    allow = SubmitField()
    deny = SubmitField()


def signed_in(application: Application) -> Customer | User | None:
    """Who may authorize this client: a customer of its org (sales channel), a staff member of it (webapp)."""
    principal = current_user._get_current_object() if current_user.is_authenticated else None
    if application.kind is ApplicationKind.SALES_CHANNEL:
        if isinstance(principal, Customer) and principal.organization_id == application.organization_id:
            return principal
        return None
    if isinstance(principal, User) and principal.role_in(application.organization) is not None:
        return principal
    return None


def _login_url(application: Application) -> str:
    back = request.full_path.rstrip("?")
    if application.kind is ApplicationKind.SALES_CHANNEL:
        return url_for("shop.login", org_slug=application.organization.slug, next=back)
    return url_for("admin.login", next=back)


def back_to_client(response: Response) -> Response:
    """The redirect to the client, as a page when a form of ours started this navigation: the browser checks a
    form's redirects against our CSP `form-action 'self'` (the login or consent form), and the client's redirect
    URI is another origin. A page that moves on by itself (meta refresh, and a link) is not a form redirect."""
    if response.status_code == 302 and request.headers.get("Sec-Fetch-Site") == "same-origin":
        return render("oauth/redirect.html", location=response.headers["Location"])
    return response


def _refused(error: OAuth2Error) -> Response:
    """Back to the client with the error when its redirect URI was verified; otherwise a page here."""
    if error.redirect_uri:
        return back_to_client(server.handle_error_response(None, error))
    return render("oauth/error.html", status=400, error=error)


def _refusal(application: Application, owner: Customer | User, markets: list) -> str | None:
    """Why this person may not authorize this client, if they may not."""
    if isinstance(owner, Customer):
        try:
            clients.check_market_access(application, markets, owner)
        except OAuth2Error as error:
            return error.get_error_description()
        return None
    org = application.organization
    if org.require_admin_2fa and owner.role_in(org) is Role.ADMIN and not sessions.two_factor(owner):
        return "This organization requires two-factor authentication: set it up in the admin area first"
    return None


@bp.route("/oauth/authorize", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def authorize() -> Response:
    try:
        grant = server.get_consent_grant()
    except OAuth2Error as error:
        return _refused(error)
    application = grant.client.application
    owner = signed_in(application)
    if owner is None:
        return redirect(_login_url(application), 303)
    refusal = _refusal(application, owner, grant.request.markets)
    if refusal:
        return _refused(
            AccessDeniedError(refusal, redirect_uri=grant.redirect_uri, state=grant.request.payload.state)
        )
    if request.method == "POST":
        form = ConsentForm()
        if not same_origin_post() or not form.validate_on_submit():
            abort(403)
        if form.deny.data or not form.allow.data:
            return _refused(
                AccessDeniedError(redirect_uri=grant.redirect_uri, state=grant.request.payload.state)
            )
        actor = Actor.of_customer(owner) if isinstance(owner, Customer) else Actor.of_user(owner)
        consents.give_consent(actor, application, owner, grant.request.scope)
    elif not consents.has_consent(application, owner):
        return _consent_page(application, owner, grant.request.markets)
    return back_to_client(server.create_authorization_response(grant=grant, grant_user=owner))


def _consent_page(application: Application, owner: Customer | User, markets: list) -> Response:
    org = application.organization
    context = {
        "application": application,
        "owner": owner,
        "markets": markets,
        "form": ConsentForm(),
        "org": org,
    }
    if isinstance(owner, Customer):
        g.org = org  # the shop's links (language, account menu) are built for this org
        set_frame_ancestors([])  # a consent page is never framed (clickjacking)
        return render("oauth/consent.html", **context, me=None, embed=False, lang=str(get_locale()))
    return render("oauth/consent_staff.html", **context)
