"""`/oauth/logout`: the end of the hosted sign-in's session, asked for by the application that started it
(the pattern of OpenID Connect's RP-initiated logout, without ID tokens).

Signing out of a storefront ends its own session; the portal's session from the hosted sign-in lives on, top level
on the portal's site, and the next "Sign in" would go straight through. So the application sends the browser here
with its `client_id`, a `post_logout_redirect_uri` registered for it (one of its redirect URIs, exact match) and an
optional `state`. Whoever is signed in to that application's organization is asked to confirm (a GET alone never
signs anyone out: any site could link here), then signed out and sent back with `state`. Nobody signed in: straight
back. An unknown client or an unregistered URI gets an error page, never a redirect.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import abort, g, redirect, request
from flask_babel import get_locale
from werkzeug.wrappers import Response
from wtforms import SubmitField

from portal.forms import Form
from portal.models import Customer
from portal.oauth import bp
from portal.oauth.authorize import query_client
from portal.oauth.consent import back_to_client, signed_in
from portal.oauth.errors import InvalidRequestError
from portal.security import sessions
from portal.security.cookies import same_origin_post
from portal.security.routes import Policy, allow
from portal.web import render, set_frame_ancestors


class LogoutForm(Form):
    sign_out = SubmitField()
    stay = SubmitField()


def _return_address() -> str:
    target = request.args.get("post_logout_redirect_uri", "")
    state = request.args.get("state")
    if not state:
        return target
    return f"{target}{'&' if '?' in target else '?'}{urlencode({'state': state})}"


@bp.route("/oauth/logout", methods=["GET", "POST"])
@allow(Policy.PUBLIC)
def logout() -> Response:
    client = query_client(request.args.get("client_id"))  # the applications that may use the hosted sign-in
    application = client.application if client is not None else None
    if application is None or request.args.get("post_logout_redirect_uri") not in application.redirect_uris:
        error = InvalidRequestError("Unknown client, or post_logout_redirect_uri is not registered for it")
        return render("oauth/error.html", status=400, error=error)
    back = _return_address()
    principal = signed_in(application)
    if principal is None:
        return redirect(back, 303)
    form = LogoutForm()
    if request.method == "POST":
        if not same_origin_post() or not form.validate_on_submit():
            abort(403)
        if form.sign_out.data:
            sessions.end()
        return back_to_client(redirect(back, 302))
    context = {"application": application, "owner": principal, "form": form, "org": application.organization}
    if isinstance(principal, Customer):
        g.org = application.organization  # the shop layout's links are this org's
        set_frame_ancestors([])  # never framed: a sign-out button under another site's overlay
        return render("oauth/logout.html", **context, me=None, embed=False, lang=str(get_locale()))
    return render("oauth/logout_staff.html", **context)
